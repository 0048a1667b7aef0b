"""Every workflow step, and every refusal, through the service layer."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from hotline.callbacks import Callback
from hotline.errors import Forbidden, IllegalStep, InvalidInput, NotFound
from hotline.events import TicketChanged
from hotline.tickets import Ticket, TicketEvent


def events_of(hl, ticket_id):
    with hl.uow(readonly=True) as uow:
        return list(uow.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


def state(hl, ticket_id) -> Ticket:
    with hl.uow(readonly=True) as uow:
        return uow.session.get(Ticket, ticket_id)


def test_full_life_from_acceptance_to_callback(city, clock):
    hl = city.hl
    seen = []
    hl.bus.subscribe(TicketChanged, seen.append)
    t = city.new_ticket(type="help", area="城关街道", address="人民路1号")
    assert t.number == "20261123-00001" and t.status == "accepted"
    t = hl.tickets.dispatch(city.operator, t.id, city.township.id, [city.roads.id], note="请尽快处理")
    assert t.status == "dispatched" and t.unit_id == city.township.id
    assert t.sign_due_at == dt.datetime(2026, 11, 24, 9, 0)  # 24 natural hours
    assert t.due_at == dt.datetime(2026, 11, 30, 9, 0)  # 5 working days, weekend skipped
    assert t.return_due_at == dt.datetime(2026, 11, 25, 9, 0)  # 2 working days
    clock.advance(hours=2)
    t = hl.tickets.sign(city.township_user, t.id)
    assert t.status == "signed" and t.signed_on_time
    t = hl.tickets.sign(city.roads_user, t.id)  # the co-handling unit acknowledges
    t = hl.tickets.reply(city.roads_user, t.id, "城管已配合清理现场")
    assert t.status == "signed"
    clock.advance(days=1)
    t = hl.tickets.reply(city.township_user, t.id, "已更换灯泡，恢复照明")
    assert t.status == "replied" and t.outcome == "已更换灯泡，恢复照明"
    t = hl.tickets.review(city.supervisor, t.id, True, "同意")
    assert t.status == "reviewed"
    t = hl.tickets.close(city.supervisor, t.id)
    assert t.status == "closed" and t.closed_on_time is True and t.close_kind == "handled"
    with hl.uow(readonly=True) as uow:
        cb = uow.session.scalar(select(Callback).where(Callback.ticket_id == t.id))
    assert cb.due_at == dt.datetime(2026, 11, 25, 9, 0)  # next working day, from 9:00
    hl.tickets.record_callback(city.operator, cb.id, "satisfied", True, "很满意")
    t = state(hl, t.id)
    assert t.satisfaction == "satisfied" and t.solved is True and t.status == "closed"
    actions = [e.action for e in events_of(hl, t.id)]
    assert actions == ["accept", "dispatch", "sign", "sign", "reply", "reply", "review", "close", "callback"]
    assert [e.action for e in seen] == actions
    # Each event carries who, when, and what changed.
    dispatch = events_of(hl, t.id)[1]
    assert dispatch.actor_id == city.operator.user_id and dispatch.note == "请尽快处理"
    assert dispatch.before["status"] == "accepted" and dispatch.after["status"] == "dispatched"


def test_ticket_numbers_count_per_day(city, clock):
    a, b = city.new_ticket(), city.new_ticket()
    clock.advance(days=1)
    c = city.new_ticket()
    assert (a.number, b.number, c.number) == ("20261123-00001", "20261123-00002", "20261124-00001")


def test_close_at_first_contact_and_callback(city):
    t = city.new_ticket(type="inquiry", content="市民中心周末上班吗？")
    t = city.hl.tickets.close_first_contact(city.operator, t.id, "周六上午正常办理")
    assert t.status == "closed" and t.close_kind == "first_contact" and t.closed_on_time
    with city.hl.uow(readonly=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Callback).where(Callback.ticket_id == t.id)) == 1


def test_reject_needs_a_reason_from_the_list(city):
    t = city.new_ticket()
    with pytest.raises(InvalidInput):
        city.hl.tickets.reject(city.operator, t.id, "i_dont_like_it")
    t = city.hl.tickets.reject(city.operator, t.id, "emergency_line", "火情请拨打119")
    assert t.status == "rejected" and t.reject_reason == "emergency_line"
    with pytest.raises(IllegalStep):
        city.hl.tickets.dispatch(city.operator, t.id, city.township.id)


def test_return_and_redispatch(city):
    t = city.dispatched(unit=city.roads)
    with pytest.raises(InvalidInput):
        city.hl.tickets.return_ticket(city.roads_user, t.id, "   ")
    with pytest.raises(Forbidden):
        city.hl.tickets.return_ticket(city.township_user, t.id, "不是我们的")
    t = city.hl.tickets.return_ticket(city.roads_user, t.id, "属地街道职责")
    assert t.status == "returned" and t.return_count == 1
    with pytest.raises(Forbidden):  # only a supervisor re-dispatches
        city.hl.tickets.redispatch(city.operator, t.id, city.township.id)
    t = city.hl.tickets.redispatch(city.supervisor, t.id, city.township.id)
    assert t.status == "dispatched" and t.unit_id == city.township.id


def test_return_window_closes_after_two_working_days(city, clock):
    t = city.dispatched()
    clock.advance(days=2, minutes=1)
    with pytest.raises(IllegalStep, match="退单时限"):
        city.hl.tickets.return_ticket(city.township_user, t.id, "不是我们的")


def test_extension_only_before_the_deadline(city, clock):
    hl = city.hl
    t = city.dispatched()
    with pytest.raises(IllegalStep):  # must sign first
        hl.tickets.request_extension(city.township_user, t.id, 3, "需要协调")
    hl.tickets.sign(city.township_user, t.id)
    with pytest.raises(InvalidInput):
        hl.tickets.request_extension(city.township_user, t.id, 11, "太多")
    t = hl.tickets.request_extension(city.township_user, t.id, 3, "需要协调多个部门")
    assert t.pending_extension_days == 3
    with pytest.raises(IllegalStep):
        hl.tickets.request_extension(city.township_user, t.id, 2, "再来一次")
    with pytest.raises(Forbidden):
        hl.tickets.approve_extension(city.township_user, t.id)
    old_due = t.due_at
    t = hl.tickets.approve_extension(city.supervisor, t.id, "同意")
    assert t.due_at == dt.datetime(2026, 12, 3, 9, 0) and old_due == dt.datetime(2026, 11, 30, 9, 0)
    assert t.extension_days == 3 and t.pending_extension_days is None
    t = hl.tickets.request_extension(city.township_user, t.id, 2, "仍需时间")
    t = hl.tickets.refuse_extension(city.supervisor, t.id, "请按期办结")
    assert t.pending_extension_days is None and t.due_at == dt.datetime(2026, 12, 3, 9, 0)
    with pytest.raises(IllegalStep):
        hl.tickets.refuse_extension(city.supervisor, t.id, "没有申请")
    clock.set(dt.datetime(2026, 12, 3, 9, 1))
    with pytest.raises(IllegalStep, match="已超过办理时限"):
        hl.tickets.request_extension(city.township_user, t.id, 1, "晚了")


def test_extension_total_is_capped(city):
    hl = city.hl
    t = city.signed()
    hl.tickets.request_extension(city.township_user, t.id, 8, "复杂")
    hl.tickets.approve_extension(city.supervisor, t.id)
    with pytest.raises(InvalidInput, match="1至2"):
        hl.tickets.request_extension(city.township_user, t.id, 3, "还要")


def test_press_and_escalate(city, clock):
    t = city.signed()
    clock.advance(days=10)
    t = city.hl.tickets.press(city.supervisor, t.id, "已超期，请今日回复")
    t = city.hl.tickets.press(city.supervisor, t.id, escalate=True)
    assert t.press_count == 2 and t.escalated
    with pytest.raises(Forbidden):
        city.hl.tickets.press(city.operator, t.id)
    closed = city.closed()
    with pytest.raises(IllegalStep):
        city.hl.tickets.press(city.supervisor, closed.id)


def test_review_can_send_the_reply_back(city):
    t = city.replied()
    with pytest.raises(InvalidInput):
        city.hl.tickets.review(city.supervisor, t.id, False, "")
    t = city.hl.tickets.review(city.supervisor, t.id, False, "回复未说明整改时间")
    assert t.status == "signed" and t.replied_at is None
    with pytest.raises(IllegalStep):
        city.hl.tickets.close(city.supervisor, t.id)


def test_unsatisfied_callback_reopens_to_the_unit(city):
    hl = city.hl
    t = city.closed()
    with hl.uow(readonly=True) as uow:
        cb = uow.session.scalar(select(Callback).where(Callback.ticket_id == t.id))
    hl.tickets.record_callback(city.operator, cb.id, "unsatisfied", False, "路灯又坏了")
    t = state(hl, t.id)
    assert t.status == "dispatched" and t.unit_id == city.township.id and t.reopen_count == 1
    with pytest.raises(IllegalStep):  # a recorded callback is final
        hl.tickets.record_callback(city.operator, cb.id, "satisfied")
    # The second round gets its own callback when the ticket closes again.
    hl.tickets.sign(city.township_user, t.id)
    hl.tickets.reply(city.township_user, t.id, "已彻底更换线路")
    hl.tickets.review(city.supervisor, t.id, True)
    hl.tickets.close(city.supervisor, t.id)
    with hl.uow(readonly=True) as uow:
        rounds = sorted(uow.session.scalars(select(Callback.round).where(Callback.ticket_id == t.id)))
    assert rounds == [0, 1]


def test_reopen_by_supervisor(city):
    t = city.closed()
    with pytest.raises(Forbidden):
        city.hl.tickets.reopen(city.operator, t.id, "不满意")
    with pytest.raises(InvalidInput):
        city.hl.tickets.reopen(city.supervisor, t.id, "")
    t = city.hl.tickets.reopen(city.supervisor, t.id, "群众反映问题未解决")
    assert t.status == "dispatched" and t.reopen_count == 1 and t.closed_at is None
    with pytest.raises(IllegalStep):
        city.hl.tickets.reopen(city.supervisor, t.id, "再次")


def test_expert_desk_answers_or_hands_back(city):
    hl = city.hl
    t = city.new_ticket(type="inquiry", content="房东不退押金怎么办？")
    with pytest.raises(InvalidInput):
        hl.tickets.transfer_to_expert(city.operator, t.id, city.township.id)
    t = hl.tickets.transfer_to_expert(city.operator, t.id, city.legal.id, "法律咨询")
    assert t.expert_unit_id == city.legal.id
    with pytest.raises(InvalidInput):  # an expert desk is not a handling unit
        hl.tickets.dispatch(city.operator, t.id, city.legal.id)
    t = hl.tickets.hand_back(city.expert, t.id, "需要街道调解")
    assert t.expert_unit_id is None
    hl.tickets.transfer_to_expert(city.operator, t.id, city.legal.id)
    t = hl.tickets.close_first_contact(city.expert, t.id, "可向住房租赁纠纷调解委员会申请调解，或起诉")
    assert t.status == "closed"
    other = city.new_ticket()
    with pytest.raises(Forbidden):
        hl.tickets.close_first_contact(city.expert, other.id, "不在本席")


def test_refusals_change_nothing(city):
    hl = city.hl
    t = city.dispatched()
    before = [e.id for e in events_of(hl, t.id)]
    refused = [
        lambda: hl.tickets.sign(city.roads_user, t.id),  # not their ticket
        lambda: hl.tickets.sign(city.operator, t.id),  # wrong role
        lambda: hl.tickets.reply(city.township_user, t.id, "好了"),  # not signed yet
        lambda: hl.tickets.close(city.supervisor, t.id),
        lambda: hl.tickets.review(city.supervisor, t.id, True),
        lambda: hl.tickets.dispatch(city.operator, t.id, city.roads.id),  # already dispatched
        lambda: hl.tickets.close_first_contact(city.operator, t.id, "答复"),
        lambda: hl.tickets.split(city.supervisor, t.id, "不是子单"),
        lambda: hl.tickets.approve_extension(city.supervisor, t.id),
        lambda: hl.tickets.accept(city.township_user, content="单位不能受理"),
        lambda: hl.tickets.accept(city.operator, content="   "),
        lambda: hl.tickets.accept(city.operator, content="x", type="gossip"),
        lambda: hl.tickets.accept(city.operator, content="x", caller_phone="not a phone"),
        lambda: hl.tickets.dispatch(city.operator, 999999, city.roads.id),
    ]
    for attempt in refused:
        with pytest.raises((Forbidden, IllegalStep, InvalidInput, NotFound)):
            attempt()
    after = state(hl, t.id)
    assert after.status == "dispatched" and after.version == t.version
    assert [e.id for e in events_of(hl, t.id)] == before


def test_dispatch_validates_units(city):
    t = city.new_ticket()
    with pytest.raises(InvalidInput):
        city.hl.tickets.dispatch(city.operator, t.id, 424242)
    with pytest.raises(InvalidInput):
        city.hl.tickets.dispatch(city.operator, t.id, city.township.id, [city.township.id])
    assert state(city.hl, t.id).status == "accepted"


def test_special_group_caller_gets_the_green_channel(city):
    from hotline.callers import Caller

    t = city.new_ticket(caller_phone="13900001111")
    with city.hl.uow() as uow:
        uow.session.scalar(select(Caller).where(Caller.phone == "13900001111")).special_group = "elderly"
        uow.commit()
    t2 = city.hl.tickets.dispatch(city.operator, city.new_ticket(caller_phone="13900001111").id, city.township.id)
    assert t2.green_channel and t2.due_at == dt.datetime(2026, 11, 26, 9, 0)  # 3 working days
    assert not t.green_channel


def test_urgency_sets_shorter_deadlines(city):
    t = city.dispatched(urgency="critical")
    assert t.sign_due_at == dt.datetime(2026, 11, 23, 11, 0) and t.due_at == dt.datetime(2026, 11, 24, 9, 0)
    t = city.dispatched(urgency="urgent")
    assert t.due_at == dt.datetime(2026, 11, 25, 9, 0)
    t = city.dispatched(type="inquiry")
    assert t.due_at == dt.datetime(2026, 11, 26, 9, 0)


def test_amend_before_dispatch_only(city):
    t = city.new_ticket()
    t = city.hl.tickets.amend(city.operator, t.id, type="complaint", urgency="urgent", address="解放路9号")
    assert (t.type, t.urgency, t.address) == ("complaint", "urgent", "解放路9号")
    with pytest.raises(InvalidInput):
        city.hl.tickets.amend(city.operator, t.id, status="closed")
    city.hl.tickets.dispatch(city.operator, t.id, city.township.id)
    with pytest.raises(IllegalStep):
        city.hl.tickets.amend(city.operator, t.id, content="改了")


def test_event_log_is_append_only_in_the_database(city):
    t = city.new_ticket()
    with city.hl.engine.connect() as conn:
        for sql in ("UPDATE ticket_events SET note = 'x'", "DELETE FROM ticket_events"):
            with pytest.raises(Exception, match="append-only"):
                with conn.begin():
                    conn.execute(text(sql))
    assert len(events_of(city.hl, t.id)) == 1
