"""Every rate against a hand-computed fixture (see the table in each test)."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

from sqlalchemy import select, update

from hotline.callbacks import Callback
from hotline.tickets import Ticket
from scheduler import rates
from scheduler.models import RateSnapshot
from tests.scheduler.conftest import at

D = dt.date(2026, 11, 23)  # Monday
D1 = dt.date(2026, 11, 24)


def _call(hl, clock, wait, answered=True, operator=None, direction="in"):
    cid = hl.calls.offered("13900000001", direction=direction)
    clock.advance(seconds=wait)
    if answered:
        hl.calls.answered(cid, operator)
        clock.advance(seconds=60)
        hl.calls.ended(cid, "answered")
    else:
        hl.calls.ended(cid, "abandoned")
    return cid


def build(city, clock):
    """Day D (Mon 23 Nov 2026) and D+1:

    calls D: 4 inbound (answered after 5 s, 10 s, 20 s; one abandoned) + 1 outbound
    T1 first contact, closed D                      caller 01   callback due D+1: satisfied, solved
    T2 rejected D                                   caller 02
    T3 township: signed on time, closed D on time   caller 03   callback due D+1: manual (no result)
    T4 roads: dispatched D, never signed            caller 04
    T5 township: signed late (D+1), closed D+1 on time
    T6 water, critical: signed on time, replied late, closed D+1 late
    """
    hl, op, sup = city.hl, city.operator, city.supervisor
    at(clock, 2026, 11, 23, 8, 0)
    _call(hl, clock, 5, operator=op.user_id)
    _call(hl, clock, 10, operator=op.user_id)
    _call(hl, clock, 20, operator=city.operator2.user_id)
    _call(hl, clock, 30, answered=False)
    _call(hl, clock, 3, operator=op.user_id, direction="out")
    T = {}
    at(clock, 2026, 11, 23, 9, 5)
    T[1] = city.new_ticket(caller_phone="13800000001", type="inquiry")
    hl.tickets.close_first_contact(op, T[1].id, "已按知识库答复")
    at(clock, 2026, 11, 23, 9, 10)
    T[2] = city.new_ticket(caller_phone="13800000002")
    hl.tickets.reject(op, T[2].id, "malicious_or_empty")
    at(clock, 2026, 11, 23, 9, 20)
    T[3] = city.dispatched(caller_phone="13800000003")
    at(clock, 2026, 11, 23, 9, 30)
    T[4] = city.dispatched(unit=city.roads, caller_phone="13800000004")
    at(clock, 2026, 11, 23, 9, 40)
    T[5] = city.dispatched(caller_phone="13800000005")
    at(clock, 2026, 11, 23, 9, 50)
    T[6] = city.dispatched(unit=city.water, caller_phone="13800000006", urgency="critical")
    at(clock, 2026, 11, 23, 10, 0)
    hl.tickets.sign(city.township_user, T[3].id)
    hl.tickets.sign(city.water_user, T[6].id)
    at(clock, 2026, 11, 23, 11, 0)
    hl.tickets.reply(city.township_user, T[3].id, "已修复")
    hl.tickets.review(sup, T[3].id, True)
    at(clock, 2026, 11, 23, 12, 0)
    hl.tickets.close(sup, T[3].id)
    # D+1
    at(clock, 2026, 11, 24, 10, 0)
    hl.tickets.sign(city.township_user, T[5].id)  # 24 h after dispatch: late
    hl.tickets.reply(city.water_user, T[6].id, "已处理")  # critical: due 24 h after dispatch: late
    at(clock, 2026, 11, 24, 11, 0)
    hl.tickets.reply(city.township_user, T[5].id, "已处理")
    for t in (T[5], T[6]):
        hl.tickets.review(sup, t.id, True)
    at(clock, 2026, 11, 24, 12, 0)
    hl.tickets.close(sup, T[5].id)
    hl.tickets.close(sup, T[6].id)
    with hl.uow() as uow:
        cbs = {cb.source_ticket_id: cb for cb in uow.session.scalars(select(Callback))}
        uow.session.execute(update(Callback).where(Callback.id == cbs[T[3].id].id).values(status="manual", attempts=3))
        uow.commit()
    at(clock, 2026, 11, 24, 14, 0)
    hl.tickets.record_callback(op, cbs[T[1].id].id, "satisfied", True, method="auto")
    at(clock, 2026, 11, 25, 8, 0)
    return T


def fr(rep, name):
    r = rep["rates"][name]
    return (r["numerator"], r["denominator"])


def test_every_rate_matches_the_hand_count(city, clock):
    T = build(city, clock)
    hl = city.hl
    rep = rates.to_json(rates.report(hl, D))
    assert rep["date"] == "2026-11-23"
    assert fr(rep, "connection_rate") == (3, 4)
    assert fr(rep, "answered_in_15s_rate") == (2, 3)
    assert fr(rep, "completion_rate") == (4, 5)  # T1 T3 T4 T5 T6 accepted; T4 open
    assert fr(rep, "first_contact_resolution_rate") == (1, 5)
    assert fr(rep, "on_time_completion_rate") == (2, 2)  # T1, T3 closed on D
    assert fr(rep, "response_rate") == (2, 4)  # T3, T6 signed in time; T4 never, T5 late
    assert fr(rep, "callback_rate") == (0, 0)
    assert rep["rates"]["callback_rate"]["value"] is None
    assert fr(rep, "satisfaction_rate") == (0, 0)
    assert rep["rates"]["connection_rate"]["value"] == 0.75
    units = {u["code"]: u for u in rep["units"]}
    assert set(units) == {"T01", "D02", "P01"}  # the expert desk is not ranked
    assert fr(units["T01"], "completion_rate") == (2, 2)
    assert fr(units["T01"], "response_rate") == (1, 2)
    assert fr(units["T01"], "on_time_completion_rate") == (1, 1)
    assert fr(units["D02"], "completion_rate") == (0, 1)
    assert fr(units["D02"], "response_rate") == (0, 1)
    assert fr(units["P01"], "response_rate") == (1, 1)
    assert fr(units["P01"], "on_time_completion_rate") == (0, 0)
    for u in units.values():  # the call hall's figures are never a unit's
        assert fr(u, "connection_rate") == (0, 0) and fr(u, "first_contact_resolution_rate") == (0, 0)
    assert [u["code"] for u in rep["units"]] == ["P01", "T01", "D02"]  # score: 1.0, 0.5, 0.0
    assert [u["rank"] for u in rep["units"]] == [1, 2, 3]
    ops = {o["name"]: o for o in rep["operators"]}
    assert ops["op1"]["calls_answered"] == 2 and ops["op1"]["rates"]["answered_in_15s_rate"]["numerator"] == 2
    assert ops["op2"]["calls_answered"] == 1 and ops["op2"]["rates"]["answered_in_15s_rate"]["numerator"] == 0
    assert ops["op1"]["rates"]["first_contact_resolution_rate"] == {"numerator": 1, "denominator": 5, "value": 0.2}  # T2 rejected: not counted

    rep1 = rates.to_json(rates.report(hl, D1))
    assert fr(rep1, "on_time_completion_rate") == (1, 2)  # T5 on time, T6 late
    assert fr(rep1, "callback_rate") == (1, 2)  # T1 done, T3 on the manual list
    assert fr(rep1, "satisfaction_rate") == (1, 1)
    assert fr(rep1, "resolution_rate") == (1, 1)
    assert fr(rep1, "completion_rate") == (0, 0)
    assert fr(rep1, "connection_rate") == (0, 0)

    both = rates.to_json(rates.report(hl, D, D1))
    assert both["date"] is None and (both["start"], both["end"]) == ("2026-11-23", "2026-11-24")
    assert fr(both, "on_time_completion_rate") == (3, 4)
    assert fr(both, "callback_rate") == (1, 2)
    township = rates.to_json(rates.report(hl, D, D1, unit_id=city.township.id))
    assert fr(township, "on_time_completion_rate") == (2, 2)
    assert fr(township, "callback_rate") == (0, 1)  # T3's callback belongs to the township
    assert fr(township, "connection_rate") == (0, 0)

    days = rates.to_json({"t": rates.trend(hl, D, D1)})["t"]
    assert [d["date"] for d in days] == ["2026-11-23", "2026-11-24"]
    assert days[0]["rates"] == rep["rates"] and days[1]["rates"] == rep1["rates"]
    assert T


def test_snapshot_stores_recomputes_and_catches_up(city, clock):
    build(city, clock)
    hl = city.hl
    n = rates.snapshot_day(hl, D)
    assert n > 0
    got = rates.stored(hl, D, D)[D]
    live = rates.report(hl, D)["rates"]
    assert {k: (v.numerator, v.denominator) for k, v in got.items()} == {k: (v.numerator, v.denominator) for k, v in live.items()}
    unit = rates.stored(hl, D, D, "unit", city.township.id)[D]
    assert (unit["response_rate"].numerator, unit["response_rate"].denominator) == (1, 2)
    # T4 is signed late now; the stored day keeps what it was until recomputed
    hl.tickets.sign(city.roads_user, _ticket(hl, "13800000004").id)
    assert rates.stored(hl, D, D)[D]["completion_rate"].denominator == 5
    rates.recompute(hl, D)
    with hl.uow(readonly=True) as uow:
        rows = uow.session.scalar(select(__import__("sqlalchemy").func.count()).select_from(RateSnapshot).where(RateSnapshot.day == D))
    assert rows == n  # replaced, not added
    # catch-up: clock on 25 Nov: the 7 days before, except D already stored
    done = rates.snapshot_missing(hl, 7)
    assert D not in done and D1 in done and len(done) == 6
    assert rates.snapshot_missing(hl, 7) == []


def _ticket(hl, phone):
    from hotline.callers import Caller

    with hl.uow(readonly=True) as uow:
        return uow.session.scalar(select(Ticket).join(Caller, Caller.id == Ticket.caller_id).where(Caller.phone == phone))


def test_cli_prints_the_daily_json(city, clock, settings):
    if not settings.database_url.startswith("sqlite"):
        import pytest

        pytest.skip("the CLI check runs once, on SQLite")
    build(city, clock)
    env = dict(os.environ, DATABASE_URL=settings.database_url, HOTLINE_DEMO="0", HOTLINE_DATA_DIR=settings.data_dir)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "run.py", "report", "daily", "--date", "2026-11-23", "--json"], cwd=root,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["date"] == "2026-11-23"
    assert set(data["rates"]) == set(rates.RATES)
    for r in data["rates"].values():
        assert set(r) == {"numerator", "denominator", "value"}
    assert data["rates"]["connection_rate"] == {"numerator": 3, "denominator": 4, "value": 0.75}
    assert data["rates"]["callback_rate"]["value"] is None
    assert {u["code"] for u in data["units"]} == {"T01", "D02", "P01"}
    for u in data["units"]:
        assert set(u["rates"]) == set(rates.RATES)


def test_trend_view_prefers_snapshots(city, clock):
    build(city, clock)
    hl = city.hl
    rates.snapshot_day(hl, D)
    hl.tickets.sign(city.roads_user, _ticket(hl, "13800000004").id)  # changes D's live figures
    rows = rates.to_json({"t": rates.trend_view(hl, D, D1)})["t"]
    assert [r["source"] for r in rows] == ["snapshot", "live"]
    assert rows[0]["rates"]["response_rate"] == {"numerator": 2, "denominator": 4, "value": 0.5}  # as stored
    assert rates.to_json(rates.report(hl, D))["rates"]["response_rate"]["numerator"] == 2  # T4 signed late
    unit_rows = rates.to_json({"t": rates.trend_view(hl, D, D, city.township.id)})["t"]
    assert unit_rows[0]["rates"]["connection_rate"] == {"numerator": 0, "denominator": 0, "value": None}
    assert unit_rows[0]["rates"]["response_rate"]["denominator"] == 2
