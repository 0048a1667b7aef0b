"""并单 and 拆单: children follow the master; each child's caller is still called back."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.callbacks import Callback
from hotline.errors import Forbidden, IllegalStep, InvalidInput
from hotline.tickets import Ticket


def test_merge_close_and_callback_every_caller(city):
    hl = city.hl
    master = city.dispatched()
    child1 = city.new_ticket(caller_phone="13900000001", content="同一处路灯不亮")
    child2 = city.new_ticket(caller_phone="13900000002", content="路灯坏了", confidential=True)
    child1 = hl.tickets.merge(city.operator, child1.id, master.id)
    hl.tickets.merge(city.operator, child2.id, master.id, "同一事项")
    assert child1.status == "merged" and child1.master_id == master.id
    view = hl.queries.get(city.supervisor, master.id)
    assert sorted(c["number"] for c in view["children"]) == sorted([child1.number, child2.number])
    hl.tickets.sign(city.township_user, master.id)
    hl.tickets.reply(city.township_user, master.id, "已修复")
    hl.tickets.review(city.supervisor, master.id, True)
    hl.tickets.close(city.supervisor, master.id)
    with hl.uow(readonly=True) as uow:
        kids = list(uow.session.scalars(select(Ticket).where(Ticket.master_id == master.id)))
        cbs = list(uow.session.scalars(select(Callback).where(Callback.ticket_id == master.id)))
    assert {k.status for k in kids} == {"closed"} and {k.close_kind for k in kids} == {"master"}
    assert len(cbs) == 3  # master's caller and both children's
    assert [cb.confidential for cb in cbs if cb.source_ticket_id == child2.id] == [True]
    # The confidential caller is on the callback list without a name, and units never see them.
    listing = hl.queries.get(city.township_user, master.id)
    assert listing["caller"]["phone"] == "138****5678"


def test_merge_refusals(city):
    hl = city.hl
    a, b, c = city.new_ticket(), city.new_ticket(), city.new_ticket()
    with pytest.raises(InvalidInput):
        hl.tickets.merge(city.operator, a.id, a.id)
    with pytest.raises(Forbidden):
        hl.tickets.merge(city.township_user, a.id, b.id)
    hl.tickets.merge(city.operator, a.id, b.id)
    with pytest.raises(IllegalStep):  # a child cannot be a master
        hl.tickets.merge(city.operator, c.id, a.id)
    with pytest.raises(IllegalStep):  # a master cannot become a child
        hl.tickets.merge(city.operator, b.id, c.id)
    closed = city.closed()
    with pytest.raises(IllegalStep):
        hl.tickets.merge(city.operator, c.id, closed.id)


def test_split_a_wrongly_merged_child(city):
    hl = city.hl
    master = city.dispatched()
    child = city.new_ticket(content="其实是另一件事：楼上漏水")
    hl.tickets.merge(city.operator, child.id, master.id)
    with pytest.raises(InvalidInput):
        hl.tickets.split(city.supervisor, child.id, "")
    with pytest.raises(Forbidden):
        hl.tickets.split(city.operator, child.id, "误并")
    child = hl.tickets.split(city.supervisor, child.id, "诉求不同，误并")
    assert child.status == "accepted" and child.master_id is None and child.unit_id is None
    actions = [e["action"] for e in hl.queries.events(city.supervisor, master.id)]
    assert actions[-2:] == ["merge_in", "split_out"]
    hl.tickets.dispatch(city.operator, child.id, city.water.id)  # and it goes its own way
