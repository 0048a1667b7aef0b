#!/usr/bin/env python
"""Rate report benchmark: a Beijing-sized year (10 million tickets, their calls and callbacks) in
PostgreSQL, then the daily report for one day and the monthly report for one unit.

    python bench/report_bench.py                       # 10,000,000 tickets (about ten minutes)
    python bench/report_bench.py --tickets 200000      # a quick run
    python bench/report_bench.py --skip-generate       # time the reports on the data already there

The database (default ``postgresql+psycopg://postgres@127.0.0.1:5432/hotline_bench``, or
``--url``) is dropped and created again, migrated with the project's Alembic migrations, and filled
with server-side ``INSERT ... SELECT generate_series`` (no rows travel through Python): indexes and
foreign-key triggers are set aside during the load and rebuilt after it, then ``VACUUM ANALYZE``.
Prints one JSON object with the generation time and the report timings (cold = first run, warm =
best of the next runs).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

DEFAULT_URL = os.environ.get("HOTLINE_BENCH_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/hotline_bench")
UNITS = 100
OPERATORS = 60
BATCH = 1_000_000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def recreate(url: str) -> None:
    server, name = url.rsplit("/", 1)
    admin = create_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    from hotline.schema import upgrade

    upgrade(url)


TICKETS_SQL = """
INSERT INTO tickets (id, number, version, channel, line, type, urgency, green_channel, confidential,
    caller_name, title, content, status, unit_id, created_by_id, accepted_at, dispatched_at, signed_at,
    replied_at, reviewed_at, closed_at, updated_at, sign_due_at, due_at, closed_on_time, signed_on_time,
    extension_days, press_count, return_count, reopen_count, escalated, close_kind, reject_reason)
SELECT g, 'B' || lpad(g::text, 10, '0'), 1, 'phone', '12345',
    (ARRAY['inquiry','help','complaint','report','suggestion','praise'])[1 + (g % 6)],
    CASE WHEN g % 50 = 0 THEN 'urgent' ELSE 'normal' END, g % 40 = 0, g % 25 = 0,
    NULL, '诉求' || g, '基准测试工单内容', 
    CASE WHEN k < 0.30 THEN 'closed' WHEN k < 0.32 THEN 'rejected'
         WHEN closed_at < :now THEN 'closed' WHEN signed_at < :now THEN 'signed' ELSE 'dispatched' END,
    CASE WHEN k < 0.32 THEN NULL ELSE 1 + (u * :units)::int % :units END,
    :op0 + (g % :ops),
    acc,
    CASE WHEN k < 0.32 THEN NULL ELSE disp END,
    CASE WHEN k < 0.32 OR signed_at >= :now THEN NULL ELSE signed_at END,
    CASE WHEN k < 0.32 OR replied_at >= :now THEN NULL ELSE replied_at END,
    CASE WHEN k < 0.32 OR closed_at >= :now THEN NULL ELSE closed_at - interval '10 minutes' END,
    CASE WHEN k < 0.30 THEN acc + interval '6 minutes' WHEN k < 0.32 THEN acc + interval '8 minutes'
         WHEN closed_at < :now THEN closed_at END,
    acc,
    CASE WHEN k < 0.32 THEN NULL ELSE disp + interval '24 hours' END,
    CASE WHEN k < 0.32 THEN NULL ELSE disp + interval '7 days' END,
    CASE WHEN k < 0.30 THEN true WHEN k < 0.32 OR closed_at >= :now THEN NULL ELSE replied_at <= disp + interval '7 days' END,
    CASE WHEN k < 0.32 OR signed_at >= :now THEN NULL ELSE signed_at <= disp + interval '24 hours' END,
    0, 0, 0, 0, false,
    CASE WHEN k < 0.30 THEN 'first_contact' WHEN k < 0.32 OR closed_at >= :now THEN NULL ELSE 'handled' END,
    CASE WHEN k >= 0.30 AND k < 0.32 THEN 'malicious_or_empty' END
FROM (
    SELECT g, k, u, acc, disp,
           disp + s * interval '30 hours' AS signed_at,
           disp + r * interval '9 days' AS replied_at,
           disp + r * interval '9 days' + interval '3 hours' AS closed_at
    FROM (
        SELECT g, random() AS k, random() AS u, random() AS s, random() ^ 1.5 AS r,
               :t0 + (g - 1) * :step + random() * interval '50 seconds' AS acc,
               :t0 + (g - 1) * :step + interval '20 minutes' + random() * interval '3 hours' AS disp
        FROM generate_series(:lo, :hi) AS g
    ) a
) b
"""

CALLS_SQL = """
INSERT INTO calls (id, direction, line, offered_at, queued_at, answered_at, ended_at, wait_seconds,
                   outcome, operator_id, number)
SELECT g, 'in', '12345', off,
    off + interval '8 seconds',
    CASE WHEN a < 0.97 THEN off + w * interval '1 second' END,
    off + w * interval '1 second' + interval '4 minutes',
    w,
    CASE WHEN a < 0.97 THEN 'answered' WHEN a < 0.99 THEN 'abandoned' ELSE 'voicemail' END,
    CASE WHEN a < 0.97 THEN :op0 + (g % :ops) END,
    '138' || lpad((g % 100000000)::text, 8, '0')
FROM (
    SELECT g, random() AS a, round((2 + random() ^ 4 * 30)::numeric, 1)::float AS w,
           :t0 + (g - 1) * :step + random() * interval '40 seconds' AS off
    FROM generate_series(:lo, :hi) AS g
) x
"""

CALLBACKS_SQL = """
INSERT INTO callbacks (ticket_id, source_ticket_id, caller_id, round, confidential, status, due_at,
                       attempts, next_attempt_at, last_attempt_at, last_result, satisfaction, solved,
                       method, completed_at, created_at)
SELECT id, id, NULL, 0, confidential,
    CASE WHEN due >= :now THEN 'pending' WHEN c < 0.96 THEN 'done' ELSE 'manual' END,
    due,
    CASE WHEN due >= :now THEN 0 ELSE 1 + (c * 10)::int % 3 END,
    due, CASE WHEN due < :now THEN due END,
    CASE WHEN due < :now THEN CASE WHEN c < 0.96 THEN 'answered' ELSE 'no_answer' END END,
    CASE WHEN due < :now AND c < 0.96 THEN
        CASE WHEN c < 0.80 THEN 'satisfied' WHEN c < 0.93 THEN 'basic' ELSE 'unsatisfied' END END,
    CASE WHEN due < :now AND c < 0.96 THEN c < 0.88 END,
    CASE WHEN due < :now AND c < 0.96 THEN CASE WHEN c < 0.85 THEN 'auto' ELSE 'manual' END END,
    CASE WHEN due < :now AND c < 0.96 THEN due + c * interval '10 hours' END,
    closed_at
FROM (
    SELECT id, confidential, closed_at, random() AS c,
           date_trunc('day', closed_at) + interval '1 day 9 hours' AS due
    FROM tickets WHERE status = 'closed' AND id BETWEEN :lo AND :hi
) x
"""


def generate(url: str, n_tickets: int, days: int, end_day: dt.date) -> dict:
    t_start = time.perf_counter()
    recreate(url)
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    t0 = dt.datetime.combine(end_day - dt.timedelta(days=days - 1), dt.time())
    now = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time(0, 10))
    step = dt.timedelta(days=days) / n_tickets
    n_calls = int(n_tickets * 1.25)
    call_step = dt.timedelta(days=days) / n_calls
    stats: dict = {"tickets": n_tickets, "calls": n_calls, "days": days, "first_day": t0.date().isoformat(),
                   "last_day": end_day.isoformat()}  # fmt: skip
    with eng.connect() as c:
        c.execute(text("SET synchronous_commit = off"))
        c.execute(text("SET maintenance_work_mem = '1GB'"))
        c.execute(text("SET max_parallel_maintenance_workers = 2"))
        # Set the secondary indexes aside (rebuilt after the load) and skip FK triggers.
        idx = c.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename IN ('tickets', 'calls', 'callbacks') AND indexname NOT LIKE 'pk_%' AND indexname NOT LIKE 'uq_%'"
        )).all()  # fmt: skip
        for name, _ in idx:
            c.execute(text(f'DROP INDEX "{name}"'))
        c.execute(text("SET session_replication_role = replica"))
        c.execute(text(
            "INSERT INTO units (id, code, name, kind, active) SELECT g, 'U' || lpad(g::text, 3, '0'), "
            "CASE WHEN g <= 40 THEN '街道' || g WHEN g <= 80 THEN '市直部门' || g ELSE '公共服务' || g END, "
            "CASE WHEN g <= 40 THEN 'township' WHEN g <= 80 THEN 'department' ELSE 'public_service' END, true "
            "FROM generate_series(1, :n) g"), {"n": UNITS})  # fmt: skip
        c.execute(text(
            "INSERT INTO users (id, username, display_name, password_hash, role, active, created_at) "
            "SELECT g, 'op' || g, '话务员' || g, '-', 'operator', true, now() FROM generate_series(1, :n) g"),
            {"n": OPERATORS})  # fmt: skip
        tg = time.perf_counter()
        for lo in range(1, n_tickets + 1, BATCH):
            hi = min(lo + BATCH - 1, n_tickets)
            c.execute(text(TICKETS_SQL), {"lo": lo, "hi": hi, "t0": t0, "step": step, "now": now, "units": UNITS,
                                          "ops": OPERATORS, "op0": 1})  # fmt: skip
            log(f"tickets {hi:,}/{n_tickets:,}")
        stats["tickets_s"] = round(time.perf_counter() - tg, 1)
        tg = time.perf_counter()
        for lo in range(1, n_calls + 1, BATCH):
            hi = min(lo + BATCH - 1, n_calls)
            c.execute(text(CALLS_SQL), {"lo": lo, "hi": hi, "t0": t0, "step": call_step, "ops": OPERATORS, "op0": 1})
            log(f"calls {hi:,}/{n_calls:,}")
        stats["calls_s"] = round(time.perf_counter() - tg, 1)
        tg = time.perf_counter()
        for lo in range(1, n_tickets + 1, BATCH):
            hi = min(lo + BATCH - 1, n_tickets)
            c.execute(text(CALLBACKS_SQL), {"lo": lo, "hi": hi, "now": now})
            log(f"callbacks for tickets {hi:,}/{n_tickets:,}")
        stats["callbacks_s"] = round(time.perf_counter() - tg, 1)
        stats["callbacks"] = c.execute(text("SELECT count(*) FROM callbacks")).scalar()
        c.execute(text("SET session_replication_role = origin"))
        for table in ("tickets", "calls", "units", "users"):
            c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        tg = time.perf_counter()
        for name, ddl in idx:
            c.execute(text(ddl))
            log(f"index {name}")
        stats["indexes_s"] = round(time.perf_counter() - tg, 1)
        tg = time.perf_counter()
        c.execute(text("VACUUM ANALYZE tickets"))
        c.execute(text("VACUUM ANALYZE calls"))
        c.execute(text("VACUUM ANALYZE callbacks"))
        stats["vacuum_analyze_s"] = round(time.perf_counter() - tg, 1)
    eng.dispose()
    stats["generation_s"] = round(time.perf_counter() - t_start, 1)
    return stats


def timed(fn, runs: int) -> dict:  # noqa: ANN001
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"cold_s": round(times[0], 3), "warm_s": round(min(times[1:] or times), 3),
            "median_s": round(statistics.median(times), 3), "runs": runs}  # fmt: skip


def bench_reports(url: str, day: dt.date, unit_id: int, runs: int) -> dict:
    from hotline.app import Hotline
    from hotline.clock import FrozenClock
    from hotline.config import Settings
    from scheduler import rates

    s = Settings()
    s.database_url = url
    s.demo = False
    hl = Hotline(s, clock=FrozenClock(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 10))))
    month_start = day.replace(day=1)
    month_end = (month_start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    out = {"day": day.isoformat(), "unit_id": unit_id, "month": month_start.strftime("%Y-%m")}
    rep = rates.report(hl, day)
    out["daily_sample"] = {k: v.as_dict() for k, v in rep["rates"].items()}
    out["daily_report"] = timed(lambda: rates.report(hl, day), runs)
    out["monthly_unit_report"] = timed(lambda: rates.report(hl, month_start, month_end, unit_id=unit_id), runs)
    out["monthly_unit_trend"] = timed(lambda: rates.trend(hl, month_start, month_end, unit_id=unit_id), runs)
    out["monthly_center_report"] = timed(lambda: rates.report(hl, month_start, month_end), max(2, runs // 2))
    out["snapshot_day"] = timed(lambda: rates.snapshot_day(hl, day), 2)
    # The daily report page: the day's report plus a 30-day trend read from the nightly snapshots.
    first = day - dt.timedelta(days=29)
    t = time.perf_counter()
    for i in range(30):
        rates.snapshot_day(hl, first + dt.timedelta(days=i))
    out["snapshots_30_days_s"] = round(time.perf_counter() - t, 3)
    out["daily_page_with_trend"] = timed(lambda: (rates.report(hl, day), rates.trend_view(hl, first, day)), runs)
    out["monthly_unit_page_with_trend"] = timed(
        lambda: (rates.report(hl, month_start, month_end, unit_id=unit_id),
                 rates.trend_view(hl, month_start, month_end, unit_id)), runs)  # fmt: skip
    hl.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--tickets", type=int, default=10_000_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--end", default="2026-11-21", help="last generated day (YYYY-MM-DD)")
    p.add_argument("--day", help="day of the daily report (default: 70 days before --end)")
    p.add_argument("--unit", type=int, default=17)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--skip-generate", action="store_true")
    a = p.parse_args(argv)
    end = dt.date.fromisoformat(a.end)
    day = dt.date.fromisoformat(a.day) if a.day else end - dt.timedelta(days=70)
    out: dict = {"url": a.url.split("@")[-1]}
    if not a.skip_generate:
        out["generation"] = generate(a.url, a.tickets, a.days, end)
        log(f"generated in {out['generation']['generation_s']} s")
    out["reports"] = bench_reports(a.url, day, a.unit, a.runs)
    out["goal_s"] = 2.0
    out["ok"] = (out["reports"]["daily_report"]["cold_s"] < 2.0
                 and out["reports"]["monthly_unit_report"]["cold_s"] < 2.0)  # fmt: skip
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
