"""Satisfaction callbacks: calling hours, retries spread over the day, the manual list, results,
a restart in the middle of a round, merged tickets and confidential callers."""
from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from hotline.callbacks import Callback
from hotline.tickets import Ticket
from scheduler.callbacks import parse_result
from scheduler.service import Tasks
from tests.scheduler.conftest import at


def _callbacks(hl):
    with hl.uow(readonly=True) as uow:
        return list(uow.session.scalars(select(Callback).order_by(Callback.id)))


def _closed_monday(city, clock, **kw):
    at(clock, 2026, 11, 23, 10, 0)
    return city.closed(**kw)


def test_parse_result():
    assert parse_result({"outcome": "answered", "digits": "12"}) == ("answered", "satisfied", False)
    assert parse_result({"outcome": "answered", "digits": "2"}) == ("answered", "basic", None)
    assert parse_result({"outcome": "answered", "digits": "31"}) == ("answered", "unsatisfied", True)
    assert parse_result({"outcome": "answered", "digits": "9"}) == ("no_input", None, None)
    assert parse_result({"outcome": "busy"}) == ("busy", None, None)
    assert parse_result(None) == ("failed", None, None)


def test_retried_over_the_day_then_given_up_to_the_manual_list(city, clock, tasks, bridge):
    hl = city.hl
    t = _closed_monday(city, clock)
    [cb] = _callbacks(hl)
    assert cb.due_at == dt.datetime(2026, 11, 24, 9, 0)  # the next working day, when calling hours open
    at(clock, 2026, 11, 24, 8, 59)
    assert tasks.callbacks_scan()["placed"] == 0
    at(clock, 2026, 11, 24, 9, 0)
    assert tasks.callbacks_scan()["placed"] == 1
    assert tasks.callbacks_scan()["placed"] == 0  # calling: not placed again
    [job] = bridge.jobs()
    assert (job.kind, job.number, job.callback_id, job.ticket_id) == ("satisfaction", "13812345678", cb.id, t.id)
    bridge.answer("busy")
    assert tasks.callbacks_scan()["retry"] == 1
    [cb] = _callbacks(hl)
    # 3 tries between 9:00 and 19:55 spread evenly: 9:00, 12:38:20, 16:16:40
    assert (cb.status, cb.attempts, cb.last_result) == ("pending", 1, "busy")
    assert cb.next_attempt_at == dt.datetime(2026, 11, 24, 12, 38, 20)
    at(clock, 2026, 11, 24, 12, 0)
    assert tasks.callbacks_scan()["placed"] == 0
    at(clock, 2026, 11, 24, 12, 38, 20)
    assert tasks.callbacks_scan()["placed"] == 1
    bridge.answer("no_answer")
    tasks.callbacks_scan()
    [cb] = _callbacks(hl)
    assert cb.next_attempt_at == dt.datetime(2026, 11, 24, 16, 16, 40)
    at(clock, 2026, 11, 24, 16, 16, 40)
    assert tasks.callbacks_scan()["placed"] == 1
    bridge.answer("answered", "")  # picked up, pressed nothing
    assert tasks.callbacks_scan()["manual"] == 1
    [cb] = _callbacks(hl)
    assert (cb.status, cb.attempts, cb.last_result) == ("manual", 3, "no_input")
    at(clock, 2026, 11, 25, 9, 0)
    assert tasks.callbacks_scan()["placed"] == 0 and len(bridge.jobs()) == 3
    listed = hl.queries.__class__  # the operators' list is the core's /api/v1/callbacks?status=manual
    from hotline.queries import list_callbacks

    assert [c["id"] for c in list_callbacks(hl, city.operator, ["manual"])["items"]] == [cb.id]
    hl.tickets.record_callback(city.operator, cb.id, "basic", True, note="电话回访", method="manual")
    assert _callbacks(hl)[0].status == "done"
    assert listed


def test_answered_results_are_recorded_and_unsatisfied_reopens(city, clock, tasks, bridge):
    hl = city.hl
    at(clock, 2026, 11, 23, 10, 0)
    a = city.closed(caller_phone="13800000001")
    b = city.closed(caller_phone="13800000002")
    at(clock, 2026, 11, 24, 9, 0)
    assert tasks.callbacks_scan()["placed"] == 2
    jobs = hl.calls.claim_outbound("bridge-test", limit=10)
    by_ticket = {j.ticket_id: j for j in jobs}
    hl.calls.finish_outbound(by_ticket[a.id].id, {"outcome": "answered", "digits": "11"})
    hl.calls.finish_outbound(by_ticket[b.id].id, {"outcome": "answered", "digits": "32"})
    assert tasks.callbacks_scan()["recorded"] == 2
    with hl.uow(readonly=True) as uow:
        ta, tb = uow.session.get(Ticket, a.id), uow.session.get(Ticket, b.id)
    assert (ta.status, ta.satisfaction, ta.solved) == ("closed", "satisfied", True)
    assert (tb.status, tb.satisfaction, tb.solved, tb.reopen_count) == ("dispatched", "unsatisfied", False, 1)
    assert all(c.status == "done" and c.method == "auto" for c in _callbacks(hl))
    assert tasks.callbacks_scan() == {"recorded": 0, "retry": 0, "manual": 0, "expired": 0, "placed": 0}


def test_never_at_night_and_weekends_wait(city, clock, tasks, bridge):
    hl = city.hl
    at(clock, 2026, 11, 27, 10, 0)  # Friday: due Monday 30 Nov 09:00
    city.closed()
    at(clock, 2026, 11, 28, 10, 0)  # Saturday
    assert tasks.callbacks_scan()["placed"] == 0
    at(clock, 2026, 11, 30, 19, 56)  # after the last call of the day (19:55)
    assert tasks.callbacks_scan()["placed"] == 0
    at(clock, 2026, 11, 30, 19, 50)
    assert tasks.callbacks_scan()["placed"] == 1
    at(clock, 2026, 11, 30, 19, 58)  # no bridge took it before the window closed: withdrawn
    stats = tasks.callbacks_scan()
    assert stats["expired"] == 1 and stats["retry"] == 1
    assert hl.calls.claim_outbound("late-bridge", limit=5) == []  # nothing left to dial at night
    [cb] = _callbacks(hl)
    assert (cb.status, cb.attempts, cb.next_attempt_at) == ("pending", 0, dt.datetime(2026, 12, 1, 9, 0))
    # Next day: a bridge claims the job and dies mid-call; at night its stale claim is withdrawn.
    at(clock, 2026, 12, 1, 19, 50)
    assert tasks.callbacks_scan()["placed"] == 1
    assert len(hl.calls.claim_outbound("dying-bridge", limit=5)) == 1
    at(clock, 2026, 12, 1, 19, 58)
    assert tasks.callbacks_scan()["expired"] == 0  # claimed 8 minutes ago: maybe still on the line
    at(clock, 2026, 12, 1, 20, 5)
    assert tasks.callbacks_scan()["expired"] == 1
    at(clock, 2026, 12, 1, 23, 0)
    assert hl.calls.claim_outbound("late-bridge", limit=5) == []
    [cb] = _callbacks(hl)
    assert (cb.status, cb.next_attempt_at) == ("pending", dt.datetime(2026, 12, 2, 9, 0))


def test_a_callback_due_on_the_swapped_working_saturday(city, clock, tasks):
    at(clock, 2026, 2, 13, 15, 0)  # Friday before the Spring Festival
    city.closed()
    [cb] = _callbacks(city.hl)
    assert cb.due_at == dt.datetime(2026, 2, 14, 9, 0)  # Saturday 14 Feb is a working day
    at(clock, 2026, 2, 14, 9, 0)
    assert tasks.callbacks_scan()["placed"] == 1
    at(clock, 2026, 2, 14, 11, 0)
    city.closed(caller_phone="13800000009")  # closed on the Saturday: called after the holiday
    at(clock, 2026, 2, 16, 10, 0)  # in the holiday: the Saturday's unanswered job is withdrawn, nothing dialled
    assert tasks.callbacks_scan() == {"recorded": 0, "retry": 1, "manual": 0, "expired": 1, "placed": 0}
    at(clock, 2026, 2, 24, 9, 0)  # the first working day after: both, each as its first counted try
    assert tasks.callbacks_scan()["placed"] == 2
    assert [c.attempts for c in _callbacks(city.hl)] == [1, 1]


def test_restart_in_the_middle_of_a_round_calls_nobody_twice(city, clock, cfg, settings, bridge, monkeypatch, caplog):
    """A merged ticket (three callers, one confidential): the scheduler dies while placing the
    round and again while calls are under way; the new process finishes the round, one call each."""
    from hotline.app import Hotline

    hl, sup = city.hl, city.supervisor
    caplog.set_level(logging.DEBUG)
    at(clock, 2026, 11, 23, 9, 0)
    master = city.signed(caller_phone="13800000001", caller_name="王一")
    c1 = city.new_ticket(caller_phone="13800000002", caller_name="李二")
    c2 = city.new_ticket(caller_phone="13800000003", caller_name="赵三保密", confidential=True)
    hl.tickets.merge(city.operator, c1.id, master.id)
    hl.tickets.merge(city.operator, c2.id, master.id)
    hl.tickets.reply(city.township_user, master.id, "已处理")
    hl.tickets.review(sup, master.id, True)
    hl.tickets.close(sup, master.id)
    cbs = _callbacks(hl)
    assert len(cbs) == 3 and [c.confidential for c in cbs] == [False, False, True]

    at(clock, 2026, 11, 24, 9, 0)
    # Process 1 dies after placing the first callback: the second one's transaction never commits.
    t1 = Tasks(hl, cfg)
    from sqlalchemy.orm import Session

    real_add, placed = Session.add, []

    def dying_add(self, obj, *a, **kw):
        placed.append(obj)
        if len(placed) == 2:
            raise SystemExit("killed")
        return real_add(self, obj, *a, **kw)

    monkeypatch.setattr(Session, "add", dying_add)
    with pytest.raises(SystemExit):
        t1.callbacks_scan()
    monkeypatch.setattr(Session, "add", real_add)
    assert len(bridge.jobs()) == 1
    assert [c.status for c in _callbacks(hl)] == ["calling", "pending", "pending"]

    # Process 2 (a fresh Hotline: nothing in memory) finishes placing the round.
    hl2 = Hotline(settings, clock=clock)
    try:
        t2 = Tasks(hl2, cfg)
        assert t2.callbacks_scan()["placed"] == 2
        bridge.answer("answered", "11", limit=2)  # two calls answered, the third still ringing
        hl2.dispose()
        # Process 3 after another restart, several scans: records the two, dials nobody again.
        hl3 = Hotline(settings, clock=clock)
        t3 = Tasks(hl3, cfg)
        assert t3.callbacks_scan()["recorded"] == 2
        for _ in range(3):
            assert t3.callbacks_scan()["placed"] == 0
        assert len(bridge.jobs()) == 3
        bridge.answer("answered", "21")
        assert t3.callbacks_scan()["recorded"] == 1
        hl3.dispose()
    finally:
        hl2.dispose()
    jobs = bridge.jobs()
    assert sorted(j.callback_id for j in jobs) == sorted(c.id for c in cbs)  # exactly one call per caller
    assert sorted(j.number for j in jobs) == ["13800000001", "13800000002", "13800000003"]
    assert all(c.status == "done" for c in _callbacks(hl))
    # A confidential caller is called but never named: not in the job, not in any log line.
    assert not hasattr(jobs[0], "caller_name")
    assert "赵三保密" not in caplog.text and "13800000003" not in caplog.text
