"""Benchmark of the hotline core on PostgreSQL (or any DATABASE_URL).

    python bench/core_bench.py                       # defaults: 3000 creations, 1,000,000 tickets stored
    python bench/core_bench.py --creations 1000 --stored 100000 --threads 4

1. Ticket creations per second through the service layer (TicketService.accept: caller upsert,
   numbered ticket, event-log row, domain event), with N worker threads.
2. With ``--stored`` tickets in the table (bulk-loaded with one INSERT … SELECT generate_series),
   the latency of a unit's inbox and of a one-day date-range list through TicketQueries, p50/p99.

Prints one JSON object. Uses its own database (``hotline_bench`` by default), dropped and re-created.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from hotline.app import Hotline  # noqa: E402
from hotline.clock import FrozenClock  # noqa: E402
from hotline.config import Settings  # noqa: E402
from hotline.queries import TicketFilter  # noqa: E402
from hotline.schema import upgrade  # noqa: E402
from hotline.users import Actor, configure_hasher  # noqa: E402


def fresh_database(server: str, name: str) -> str:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = server.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    return url


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _creator_process(url: str, actor: Actor, n: int, threads: int, offset: int, queue) -> None:  # noqa: ANN001
    """One worker process, as a production deployment runs several: its own Hotline, its threads."""
    settings = Settings()
    settings.database_url = url
    hl = Hotline(settings, clock=FrozenClock(dt.datetime(2026, 11, 23, 10, 0)))
    queue.put(("ready", None))
    result = bench_creations(hl, actor, n, threads, offset)
    hl.dispose()
    queue.put(("done", result))


def bench_processes(url: str, actor: Actor, n: int, processes: int, threads: int) -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    per = n // processes
    procs = [ctx.Process(target=_creator_process, args=(url, actor, per, threads, 10 + k * threads, q))
             for k in range(processes)]  # fmt: skip
    for p in procs:
        p.start()
    for _ in procs:
        assert q.get(timeout=120)[0] == "ready"
    start = time.perf_counter()
    results = [q.get(timeout=600)[1] for _ in procs]
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    total = sum(r["tickets"] for r in results)
    return {
        "tickets": total, "processes": processes, "threads_per_process": threads, "seconds": round(elapsed, 2),
        "per_second": round(total / elapsed, 1),
        "latency_ms_p50": round(statistics.median(r["latency_ms_p50"] for r in results), 2),
        "latency_ms_p99": round(max(r["latency_ms_p99"] for r in results), 2),
    }  # fmt: skip


def bench_creations(hl: Hotline, actor: Actor, n: int, threads: int, offset: int = 0) -> dict:
    per = n // threads
    latencies: list[float] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        mine = []
        for i in range(per):
            t0 = time.perf_counter()
            hl.tickets.accept(actor, content=f"压测工单 {k}-{i}：小区路灯不亮，请尽快维修", type="help",
                              caller_phone=f"13{offset + k:03d}{i:06d}", area="城关街道")  # fmt: skip
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    ths = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    elapsed = time.perf_counter() - start
    return {
        "tickets": per * threads,
        "threads": threads,
        "seconds": round(elapsed, 2),
        "per_second": round(per * threads / elapsed, 1),
        "latency_ms_p50": round(pct(latencies, 50) * 1000, 2),
        "latency_ms_p99": round(pct(latencies, 99) * 1000, 2),
    }


BULK = """
INSERT INTO tickets (number, version, channel, line, type, urgency, green_channel, confidential,
    title, content, status, unit_id, accepted_at, updated_at, dispatched_at, due_at, extension_days,
    press_count, return_count, reopen_count, escalated, caller_id)
SELECT 'B' || to_char(:start_day + (g % :days) * interval '1 day', 'YYYYMMDD') || '-' || lpad(g::text, 8, '0'),
       1, 'phone', '12345', 'help', 'normal', false, false,
       '批量工单 ' || g, '批量生成的历史工单内容 ' || g,
       (ARRAY['closed','closed','closed','closed','closed','closed','signed','dispatched','replied','rejected'])[1 + (g / :units) % 10],
       (SELECT id FROM units ORDER BY id LIMIT 1 OFFSET (g % :units)),
       :start_day + (g % :days) * interval '1 day' + (g % 36000) * interval '1 second',
       :start_day + (g % :days) * interval '1 day' + (g % 36000) * interval '1 second',
       :start_day + (g % :days) * interval '1 day' + (g % 36000) * interval '1 second',
       :start_day + (g % :days) * interval '1 day' + interval '5 days',
       0, 0, 0, 0, false, NULL
FROM generate_series(1, :n) AS g
"""


def bulk_load(url: str, n: int, units: int, days: int, start_day: dt.datetime) -> float:
    eng = create_engine(url)
    t0 = time.perf_counter()
    with eng.begin() as c:
        c.execute(text(BULK), {"n": n, "units": units, "days": days, "start_day": start_day})
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE tickets"))
    eng.dispose()
    return time.perf_counter() - t0


def bench_reads(hl: Hotline, unit_actor: Actor, operator: Actor, day: dt.date, rounds: int) -> dict:
    inbox, ranged = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        box = hl.queries.inbox(unit_actor)
        inbox.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        page = hl.queries.list(operator, TicketFilter(date_from=day, date_to=day, per_page=50))
        ranged.append(time.perf_counter() - t0)
    return {
        "inbox_total": box["total"],
        "inbox_ms_p50": round(pct(inbox, 50) * 1000, 2),
        "inbox_ms_p99": round(pct(inbox, 99) * 1000, 2),
        "day_list_total": page["total"],
        "day_list_ms_p50": round(pct(ranged, 50) * 1000, 2),
        "day_list_ms_p99": round(pct(ranged, 99) * 1000, 2),
        "rounds": rounds,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--database", default="hotline_bench_core")
    p.add_argument("--creations", type=int, default=3000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--processes", type=int, default=3, help="worker processes, as web workers run")
    p.add_argument("--stored", type=int, default=1_000_000)
    p.add_argument("--units", type=int, default=90)
    p.add_argument("--rounds", type=int, default=200)
    args = p.parse_args()

    configure_hasher(time_cost=1, memory_cost=8, parallelism=1)
    url = fresh_database(args.server, args.database)
    settings = Settings()
    settings.database_url = url
    now = dt.datetime(2026, 11, 23, 10, 0)
    hl = Hotline(settings, clock=FrozenClock(now))
    sysa = Actor.system()
    units = [hl.directory.create_unit(sysa, code=f"U{i:03d}", name=f"单位{i}", kind="department")
             for i in range(args.units)]  # fmt: skip
    op = Actor.of(hl.directory.create_user(sysa, username="op", password="password1", display_name="op", role="operator"))
    unit_user = hl.directory.create_user(sysa, username="u0", password="password1", display_name="u0", role="unit",
                                         unit_id=units[0].id)  # fmt: skip
    out: dict = {"database": hl.dialect, "machine_cores": __import__("os").cpu_count()}
    out["create_one_process"] = bench_creations(hl, op, args.creations // 2, args.threads)
    out["create"] = bench_processes(url, op, args.creations, args.processes, args.threads)
    days = 365
    out["bulk_load_seconds"] = round(bulk_load(url, args.stored, args.units, days, dt.datetime(2025, 11, 23)), 1)
    out["stored_tickets"] = args.stored + args.creations + args.creations // 2
    out["reads"] = bench_reads(hl, Actor(unit_user.id, "unit", units[0].id), op, dt.date(2026, 6, 1), args.rounds)
    hl.dispose()
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
