"""Phone numbers are personal data: masked for units, absent on confidential tickets, never logged."""
from __future__ import annotations

import logging

from hotline.callers import PhoneMaskingFilter, mask_phone, mask_phones_in
from hotline.queries import TicketFilter


def test_masking():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("057188886666") == "057*****6666"
    assert mask_phones_in("请回电13812345678或0571-88886666") == "请回电138****5678或057*****6666"


def test_unit_sees_masked_number_and_center_sees_it_whole(city):
    t = city.dispatched()
    assert city.hl.queries.get(city.township_user, t.id)["caller"] == {"id": None, "name": "张先生", "phone": "138****5678"}
    assert city.hl.queries.get(city.operator, t.id)["caller"]["phone"] == "13812345678"
    assert city.hl.queries.get(city.manager, t.id)["caller"]["phone"] == "138****5678"


def test_confidential_ticket_hides_the_caller_from_units(city):
    t = city.dispatched(confidential=True)
    assert city.hl.queries.get(city.township_user, t.id)["caller"] is None
    assert city.hl.queries.inbox(city.township_user)["items"][0]["caller"] is None
    assert city.hl.queries.get(city.supervisor, t.id)["caller"]["phone"] == "13812345678"


def test_units_see_only_their_tickets(city):
    mine = city.dispatched()
    other = city.dispatched(unit=city.water)
    city.new_ticket()  # not dispatched at all
    listed = city.hl.queries.list(city.township_user, TicketFilter())
    assert [t["id"] for t in listed["items"]] == [mine.id]
    import pytest

    from hotline.errors import Forbidden

    with pytest.raises(Forbidden):
        city.hl.queries.get(city.township_user, other.id)
    with pytest.raises(Forbidden):
        city.hl.queries.caller_history(city.township_user, "13812345678")
    # A co-handling unit sees the ticket too.
    co = city.hl.tickets.dispatch(city.operator, city.new_ticket().id, city.water.id, [city.township.id])
    assert co.id in [t["id"] for t in city.hl.queries.list(city.township_user, TicketFilter())["items"]]


def test_events_feed_respects_visibility(city):
    mine = city.dispatched()
    city.dispatched(unit=city.water)
    feed = city.hl.queries.events_since(city.township_user, 0)
    assert {e["ticket_id"] for e in feed} == {mine.id}
    assert all(e["before"] is None for e in feed)


def test_log_filter_masks_numbers(caplog):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "call from %s", ("13812345678",), None)
    PhoneMaskingFilter().filter(record)
    assert record.getMessage() == "call from 138****5678"
