"""Random legal (and some illegal) sequences of workflow steps over tickets with co-units, merges and
reopenings: no step may fail with anything but a clear refusal, and the invariants hold after every
sequence (issue 15).

Invariants: a ticket at a unit has one lead unit; co-units are unique and never the lead; merged
children follow their master; the append-only event log replays to the ticket's current state.
"""
from __future__ import annotations

import datetime as dt
import shutil
import uuid

import pytest
from hypothesis import HealthCheck, example, given, note, settings as hsettings, strategies as st
from sqlalchemy import select

from hotline.app import Hotline
from hotline.callbacks import Callback, CallbackStatus
from hotline.clock import FrozenClock
from hotline.config import Settings
from hotline.errors import HotlineError
from hotline.tickets import AT_UNIT, OPEN, Status, Ticket, TicketEvent
from hotline.workflow import TRACKED, snapshot
from tests.conftest import _truncate
from tests.core.conftest import make_city

STEPS = (
    "accept", "dispatch", "redispatch", "sign", "co_sign", "return", "extension", "approve_extension",
    "refuse_extension", "press", "reply", "co_reply", "review", "review_reject", "close", "callback",
    "reopen", "merge", "split", "to_expert", "hand_back", "first_contact", "reject", "wait",
)  # fmt: skip

step = st.tuples(
    st.sampled_from(STEPS),
    st.integers(0, 7),  # which ticket
    st.integers(0, 7),  # a second ticket (merge master) or a unit choice
    st.lists(st.integers(0, 2), max_size=3),  # co-units (indexes into the three units)
    st.sampled_from(["satisfied", "basic", "unsatisfied"]),
    st.integers(1, 60),  # hours to wait
)


def _fresh(database_url: str, tmp_path, template) -> Hotline:
    s = Settings()
    if database_url.startswith("sqlite"):
        path = tmp_path / f"{uuid.uuid4().hex}.db"
        shutil.copy(template, path)
        s.database_url = f"sqlite:///{path}"
    else:
        _truncate(database_url)
        s.database_url = database_url
    s.data_dir, s.demo = str(tmp_path), False
    return Hotline(s, clock=FrozenClock(dt.datetime(2026, 11, 23, 9, 0)))


def _run(city, clock, steps) -> list[int]:
    hl, tk = city.hl, city.hl.tickets
    units = [city.township, city.roads, city.water]
    unit_users = {city.township.id: city.township_user, city.roads.id: city.roads_user, city.water.id: city.water_user}
    ids: list[int] = []
    trace: list[str] = []
    for name, i, j, co, sat, hours in steps:
        if name == "wait":
            clock.advance(hours=hours)
            continue
        if name == "accept" or not ids:
            ids.append(city.new_ticket(content=f"第{len(ids) + 1}件：路灯不亮").id)
            trace.append(f"accept #{len(ids)}")
            continue
        tid, other = ids[i % len(ids)], ids[j % len(ids)]
        with hl.uow(readonly=True) as uow:
            t = uow.session.get(Ticket, tid)
            lead = unit_users.get(t.unit_id)
            cos = [unit_users[c.unit_id] for c in t.co_units]
        lead_unit = units[j % 3]
        co_ids = [units[k].id for k in co if units[k].id != lead_unit.id]
        before = len(trace)
        trace.append(f"{name} #{ids.index(tid) + 1} (unit {j % 3}, co {co_ids}, master #{ids.index(other) + 1})")
        try:
            if name == "dispatch":
                tk.dispatch(city.operator, tid, lead_unit.id, co_ids)
            elif name == "redispatch":
                tk.redispatch(city.supervisor, tid, lead_unit.id, co_ids)
            elif name == "sign":
                tk.sign(lead or city.township_user, tid)
            elif name == "co_sign" and cos:
                tk.sign(cos[j % len(cos)], tid)
            elif name == "return":
                tk.return_ticket(lead or city.township_user, tid, "不属于本单位职责")
            elif name == "extension":
                tk.request_extension(lead or city.township_user, tid, 1 + j % 4, "需要协调")
            elif name == "approve_extension":
                tk.approve_extension(city.supervisor, tid)
            elif name == "refuse_extension":
                tk.refuse_extension(city.supervisor, tid, "理由不充分")
            elif name == "press":
                tk.press(city.supervisor, tid, escalate=j % 2 == 0)
            elif name == "reply":
                tk.reply(lead or city.township_user, tid, "已处理完毕")
            elif name == "co_reply" and cos:
                tk.reply(cos[j % len(cos)], tid, "协办意见：已配合")
            elif name == "review":
                tk.review(city.supervisor, tid, True)
            elif name == "review_reject":
                tk.review(city.supervisor, tid, False, "回复不完整")
            elif name == "close":
                tk.close(city.supervisor, tid)
            elif name == "callback":
                with hl.uow(readonly=True) as uow:
                    cb = uow.session.scalar(select(Callback.id).where(
                        Callback.status == CallbackStatus.PENDING).order_by(Callback.id))  # fmt: skip
                if cb is not None:
                    tk.record_callback(city.operator, cb, sat, sat != "unsatisfied")
            elif name == "reopen":
                tk.reopen(city.supervisor, tid, "市民不满意")
            elif name == "merge":
                tk.merge(city.operator, tid, other)
            elif name == "split":
                tk.split(city.supervisor, tid, "并错了")
            elif name == "to_expert":
                tk.transfer_to_expert(city.operator, tid, city.legal.id)
            elif name == "hand_back":
                tk.hand_back(city.expert, tid, "需要派单")
            elif name == "first_contact":
                tk.close_first_contact(city.operator, tid, "已当场答复")
            elif name == "reject":
                tk.reject(city.operator, tid, "malicious_or_empty")
            trace[before] += " ok"
        except HotlineError as e:
            trace[before] += f" refused: {e.detail}"
            # a clear refusal (403/409/400) is a legal answer; anything else fails the test
    note("\n".join(trace))
    return ids


def _replay(events: list[TicketEvent]) -> dict:
    state: dict = {}
    for e in events:
        for k, v in (e.after or {}).items():
            if k in TRACKED or k == "co_unit_ids":
                state[k] = v
    return state


def _check_invariants(hl: Hotline, ids: list[int]) -> None:
    with hl.uow(readonly=True) as uow:
        s = uow.session
        tickets = {t.id: t for t in s.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
        for t in tickets.values():
            co = [c.unit_id for c in t.co_units]
            assert len(co) == len(set(co)), f"{t.number}: co-units repeat {co}"
            assert t.unit_id not in co, f"{t.number}: the lead is also a co-unit"
            if t.status in (*AT_UNIT, Status.REPLIED, Status.REVIEWED):
                assert t.unit_id is not None, f"{t.number} is {t.status} with no lead unit"
            if t.status == Status.ACCEPTED:
                assert not co, f"{t.number}: co-units on a ticket nobody was given"
            if t.master_id is not None:
                master = s.get(Ticket, t.master_id)
                assert master.master_id is None, "a child's master is itself a child"
                assert t.status in (Status.MERGED, Status.CLOSED), f"child {t.number} is {t.status}"
                if master.status in OPEN:
                    assert t.status == Status.MERGED, f"child {t.number} closed while its master is open"
                if master.status == Status.CLOSED:
                    assert t.status == Status.CLOSED, f"child {t.number} open after its master closed"
            elif t.status == Status.MERGED:
                raise AssertionError(f"{t.number} is merged without a master")
            events = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)))
            assert events and events[0].action == "accept"
            assert _replay(events) == snapshot(t), f"{t.number}: the event log does not replay to the ticket"


@pytest.mark.slow
@hsettings(max_examples=120, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(steps=st.lists(step, min_size=5, max_size=45))
# The two defects this test first found, kept as fixed examples (CI runs Hypothesis derandomized):
# reopening a closed ticket with a co-unit, and a master closed at first contact stranding its child.
@example(steps=[("accept", 0, 0, [], "satisfied", 1), ("dispatch", 0, 0, [1], "satisfied", 1),
                ("sign", 0, 0, [], "satisfied", 1), ("reply", 0, 0, [], "satisfied", 1),
                ("review", 0, 0, [], "satisfied", 1), ("close", 0, 0, [], "satisfied", 1),
                ("reopen", 0, 0, [], "satisfied", 1)])
@example(steps=[("accept", 0, 0, [], "satisfied", 1), ("accept", 0, 0, [], "satisfied", 1),
                ("merge", 1, 0, [], "satisfied", 1), ("first_contact", 0, 0, [], "satisfied", 1),
                ("wait", 0, 0, [], "satisfied", 1)])
def test_random_workflows_keep_the_invariants(database_url, tmp_path, sqlite_template, steps):
    hl = _fresh(database_url, tmp_path, sqlite_template)
    try:
        city = make_city(hl)
        ids = _run(city, hl.clock, steps)
        _check_invariants(hl, ids)
    finally:
        hl.dispose()
