#!/usr/bin/env python
"""Live push benchmark: 200 Socket.IO clients in 50 unit rooms on one server process; the time from
an operator's dispatch to the unit screens' receipt, p50/p99. Prints JSON.

    python bench/ws_bench.py                       # 200 clients, 50 units, 400 dispatches
    python bench/ws_bench.py --clients 400 --units 100 --dispatches 1000 --concurrency 4

The server runs in a subprocess (the same app factory as ``python run.py web``; Werkzeug threaded,
async_mode=threading, in-process message queue, SQLite in WAL mode). Latency is measured from the
moment the client sends ``POST /api/v1/tickets/<id>/dispatch`` to the moment each of the unit's
screens has the push, so it includes the HTTP request, the transaction and its commit. Every client
also checks it never receives another unit's ticket.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(db: str, port: int, data: str) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    from hotline.app import Hotline
    from hotline.config import Settings
    from web import create_app, socketio

    s = Settings()
    s.database_url, s.data_dir, s.secret_key, s.message_queue, s.demo = db, data, "ws-bench", None, False
    app = create_app(Hotline(s), message_queue=None)
    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


def prepare(db: str, units: int, tickets: int) -> tuple[list[int], list[int]]:
    from hotline.app import Hotline
    from hotline.config import Settings
    from hotline.schema import upgrade
    from hotline.users import Actor, configure_hasher

    configure_hasher(time_cost=1, memory_cost=8, parallelism=1)  # logins are not what is measured
    upgrade(db)
    s = Settings()
    s.database_url, s.demo = db, False
    hl = Hotline(s)
    sysa, d = Actor.system(), hl.directory
    unit_ids = []
    for i in range(units):
        u = d.create_unit(sysa, code=f"B{i:03d}", name=f"压测单位{i:03d}", kind="department")
        d.create_user(sysa, username=f"u{i:03d}", password="bench-pass", display_name=f"单位{i}", role="unit", unit_id=u.id)
        unit_ids.append(u.id)
    op = Actor.of(d.create_user(sysa, username="op", password="bench-pass", display_name="话务员", role="operator"))
    ticket_ids = [hl.tickets.accept(op, content=f"压测工单{i}：小区路灯不亮", caller_phone=f"138{i:08d}").id
                  for i in range(tickets)]  # fmt: skip
    hl.dispose()
    return unit_ids, ticket_ids


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(pct(ms, 50), 2), "p90": round(pct(ms, 90), 2), "p99": round(pct(ms, 99), 2),
        "max": round(max(ms), 2) if ms else None, "mean": round(statistics.fmean(ms), 2) if ms else None,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--dispatches", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=1, help="operators dispatching at once")
    p.add_argument("--pause", type=float, default=0.02, help="seconds between one operator's dispatches")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--serve", nargs=3, metavar=("DB", "PORT", "DATA"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2])
        return 0

    import requests
    import socketio

    tmp = tempfile.mkdtemp(prefix="ws-bench-")
    db = f"sqlite:///{tmp}/bench.db"
    t0 = time.perf_counter()
    unit_ids, ticket_ids = prepare(db, args.units, args.dispatches)
    prep_s = time.perf_counter() - t0
    if not args.port:
        import socket

        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            args.port = sk.getsockname()[1]
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([sys.executable, __file__, "--serve", db, str(args.port), tmp], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    clients: list[socketio.Client] = []
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise SystemExit("server did not start: " + (server.stderr.read() if server.stderr else ""))

        # Log each unit in once; its screens share the session (as tabs of one browser would).
        cookies = {}
        for i, uid in enumerate(unit_ids):
            s = requests.Session()
            s.post(base + "/api/v1/auth/login", json={"username": f"u{i:03d}", "password": "bench-pass"}).raise_for_status()
            cookies[uid] = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
        received: dict[int, dict[int, float]] = {}  # ticket_id -> {client index: perf_counter at receipt}
        misrouted = []
        lock = threading.Lock()

        def make_handler(idx: int, unit_id: int):  # noqa: ANN202
            def on_ticket(data):  # noqa: ANN001, ANN202
                now = time.perf_counter()
                if data.get("action") != "dispatch":
                    return
                with lock:
                    if unit_id not in data.get("unit_ids", []):
                        misrouted.append((idx, data["ticket_id"]))
                    received.setdefault(data["ticket_id"], {})[idx] = now

            return on_ticket

        t1 = time.perf_counter()
        client_unit = []
        for idx in range(args.clients):
            uid = unit_ids[idx % len(unit_ids)]
            c = socketio.Client(reconnection=False)
            c.on("ticket", make_handler(idx, uid))
            c.connect(base, headers={"Cookie": cookies[uid]}, transports=["websocket"], wait_timeout=10)
            clients.append(c)
            client_unit.append(uid)
        connect_s = time.perf_counter() - t1
        per_unit = {uid: client_unit.count(uid) for uid in unit_ids}

        op = requests.Session()
        r = op.post(base + "/api/v1/auth/login", json={"username": "op", "password": "bench-pass"})
        r.raise_for_status()
        op.headers["X-CSRFToken"] = r.json()["csrf_token"]
        sent: dict[int, tuple[float, int, float]] = {}  # ticket -> (sent at, unit, http ms)
        errors = []

        def operator(worker: int) -> None:
            sess = requests.Session()
            sess.cookies.update(op.cookies)
            sess.headers.update(op.headers)
            for n in range(worker, len(ticket_ids), args.concurrency):
                tid, uid = ticket_ids[n], unit_ids[n % len(unit_ids)]
                start = time.perf_counter()
                resp = sess.post(f"{base}/api/v1/tickets/{tid}/dispatch", json={"unit_id": uid})
                http_ms = (time.perf_counter() - start) * 1000
                if resp.status_code != 200:
                    errors.append(resp.text[:200])
                with lock:
                    sent[tid] = (start, uid, http_ms)
                time.sleep(args.pause)

        t2 = time.perf_counter()
        workers = [threading.Thread(target=operator, args=(w,)) for w in range(args.concurrency)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        run_s = time.perf_counter() - t2
        deadline = time.monotonic() + 5
        expected = sum(per_unit[uid] for _, uid, _ in sent.values())
        while time.monotonic() < deadline:
            with lock:
                got = sum(len(v) for v in received.values())
            if got >= expected:
                break
            time.sleep(0.05)

        latencies, http = [], []
        with lock:
            for tid, (start, uid, http_ms) in sent.items():
                http.append(http_ms)
                for at in received.get(tid, {}).values():
                    latencies.append((at - start) * 1000)
            got = sum(len(v) for v in received.values())
        out = {
            "benchmark": "ws_dispatch_to_receipt",
            "clients": args.clients, "unit_rooms": args.units, "dispatches": len(sent),
            "concurrency": args.concurrency, "pause_s": args.pause,
            "receipts_expected": expected, "receipts": got, "lost": expected - got, "misrouted": len(misrouted),
            "http_errors": len(errors),
            "latency_ms": summary(latencies),
            "dispatch_http_ms": summary(http),
            "dispatch_rate_per_s": round(len(sent) / run_s, 1),
            "connect_all_s": round(connect_s, 2), "prepare_s": round(prep_s, 2),
            "goal_p99_ms": 100, "goal_met": bool(latencies) and pct(latencies, 99) < 100,
            "server": "one process: Werkzeug threaded, Flask-SocketIO async_mode=threading, SQLite WAL",
            "cpus": os.cpu_count(),
        }  # fmt: skip
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0 if expected == got and not misrouted and not errors else 1
    finally:
        from concurrent.futures import ThreadPoolExecutor

        import websocket

        # websocket-client waits 3 s for a close frame the threaded server does not send.
        close = websocket.WebSocket.close
        websocket.WebSocket.close = lambda self, status=1000, reason=b"", timeout=0.05: close(self, status, reason, timeout)

        def _bye(c) -> None:  # noqa: ANN001
            try:
                c.disconnect()
            except Exception:  # noqa: BLE001
                pass

        with ThreadPoolExecutor(32) as pool:
            list(pool.map(_bye, clients))
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
