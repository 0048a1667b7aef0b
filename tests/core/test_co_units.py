"""Every step that touches co-handling units works on a ticket that already has them.

Issue 15: reassigning co-units replaced the rows with new ones for the same units, and the autoflush
inserted them before the old ones were deleted: reopening a ticket with a co-unit failed with
``UNIQUE constraint failed: ticket_co_units.ticket_id, ticket_co_units.unit_id`` (a 500 through the
API, and the demo's first start crashed at some hours).
"""
from __future__ import annotations

from sqlalchemy import func, select

from hotline.callbacks import Callback
from hotline.tickets import Ticket, TicketCoUnit


def co_rows(hl, ticket_id):
    with hl.uow(readonly=True) as uow:
        return sorted(uow.session.scalars(select(TicketCoUnit.unit_id).where(TicketCoUnit.ticket_id == ticket_id)))


def with_co_unit(city):
    t = city.new_ticket()
    return city.hl.tickets.dispatch(city.operator, t.id, city.township.id, [city.roads.id])


def closed_with_co_unit(city):
    hl = city.hl
    t = with_co_unit(city)
    hl.tickets.sign(city.township_user, t.id)
    hl.tickets.sign(city.roads_user, t.id)
    hl.tickets.reply(city.roads_user, t.id, "城管已配合清理")
    hl.tickets.reply(city.township_user, t.id, "已修复")
    hl.tickets.review(city.supervisor, t.id, True)
    return hl.tickets.close(city.supervisor, t.id)


def test_reopen_keeps_the_co_units_and_asks_them_again(city):
    hl = city.hl
    t = closed_with_co_unit(city)
    t = hl.tickets.reopen(city.supervisor, t.id, "市民反映仍未修复")
    assert t.status == "dispatched" and co_rows(hl, t.id) == [city.roads.id]
    co = t.co_units[0]
    assert co.signed_at is None and co.opinion is None  # a new round: sign and give an opinion again
    hl.tickets.sign(city.roads_user, t.id)
    hl.tickets.reply(city.roads_user, t.id, "再次配合处理")


def test_unsatisfied_callback_reopens_a_ticket_with_co_units(city):
    hl = city.hl
    t = closed_with_co_unit(city)
    with hl.uow(readonly=True) as uow:
        cb = uow.session.scalar(select(Callback).where(Callback.ticket_id == t.id))
    hl.tickets.record_callback(city.operator, cb.id, "unsatisfied", False)
    with hl.uow(readonly=True) as uow:
        assert uow.session.get(Ticket, t.id).status == "dispatched"
    assert co_rows(hl, t.id) == [city.roads.id]


def test_redispatch_to_the_same_co_units_and_to_others(city):
    hl = city.hl
    t = with_co_unit(city)
    hl.tickets.return_ticket(city.township_user, t.id, "不属于本单位")
    t = hl.tickets.redispatch(city.supervisor, t.id, city.water.id, [city.roads.id])  # same co-unit
    assert co_rows(hl, t.id) == [city.roads.id]
    t = hl.tickets.redispatch(city.supervisor, t.id, city.water.id, [city.roads.id, city.township.id])
    assert co_rows(hl, t.id) == sorted([city.roads.id, city.township.id])
    t = hl.tickets.redispatch(city.supervisor, t.id, city.roads.id, [city.township.id])  # co-unit becomes lead
    assert t.unit_id == city.roads.id and co_rows(hl, t.id) == [city.township.id]
    t = hl.tickets.redispatch(city.supervisor, t.id, city.township.id, [])  # the lead was a co-unit
    assert t.unit_id == city.township.id and co_rows(hl, t.id) == []


def test_redispatch_a_signed_ticket_with_co_units(city):
    hl = city.hl
    t = with_co_unit(city)
    hl.tickets.sign(city.township_user, t.id)
    hl.tickets.sign(city.roads_user, t.id)
    t = hl.tickets.redispatch(city.supervisor, t.id, city.township.id, [city.roads.id])
    assert t.status == "dispatched" and co_rows(hl, t.id) == [city.roads.id] and t.co_units[0].signed_at is None


def test_merge_and_split_a_ticket_that_had_co_units(city):
    hl = city.hl
    master = with_co_unit(city)
    child = with_co_unit(city)
    hl.tickets.merge(city.operator, child.id, master.id)
    assert co_rows(hl, child.id) == []
    hl.tickets.split(city.supervisor, child.id, "并错了")
    t = hl.tickets.dispatch(city.operator, child.id, city.township.id, [city.roads.id])
    assert co_rows(hl, t.id) == [city.roads.id]


def test_reopen_a_master_with_co_units_and_merged_children(city):
    hl = city.hl
    master = with_co_unit(city)
    child = city.new_ticket()
    hl.tickets.merge(city.operator, child.id, master.id)
    for actor in (city.township_user, city.roads_user):
        hl.tickets.sign(actor, master.id)
    hl.tickets.reply(city.township_user, master.id, "已修复")
    hl.tickets.review(city.supervisor, master.id, True)
    hl.tickets.close(city.supervisor, master.id)
    t = hl.tickets.reopen(city.supervisor, master.id, "复发")
    assert co_rows(hl, t.id) == [city.roads.id]
    with hl.uow(readonly=True) as uow:
        assert uow.session.get(Ticket, child.id).status == "merged"
        assert uow.session.scalar(select(func.count()).select_from(TicketCoUnit)) == 1


def test_reopen_through_the_api_is_no_server_error(city):
    """The finding as a user met it: dispatch with a co-unit, walk to closed, reopen: HTTP 500."""
    from web import create_app

    hl = city.hl
    app = create_app(hl, testing=True)
    client = app.test_client()
    token = hl.directory.issue_token(city.supervisor, "t")
    t = closed_with_co_unit(city)
    r = client.post(f"/api/v1/tickets/{t.id}/reopen", json={"reason": "仍未解决"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["co_units"][0]["id"] == city.roads.id
