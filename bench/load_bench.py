"""Load test of the whole system as a center's staff use it: ``python run.py`` (or ``run.py web``) under
N concurrent staff doing a day's mix through the HTTP API, no think time.

    python bench/load_bench.py                                   # 20 staff, 60 s, on the SQLite default
    python bench/load_bench.py --staff 50 --seconds 60
    python bench/load_bench.py --database postgres               # the same against PostgreSQL
    python bench/load_bench.py --loop                            # only the issue's closed loop
    python bench/load_bench.py --url http://127.0.0.1:5000       # an already running server

Each member of staff logs in once and works in a closed loop:
- operators (half of the staff): type a ticket (the classifier's suggestion and the similar-ticket
  search as the console asks them while typing, a knowledge search), accept it and dispatch it to
  a unit; now and then look a caller up, or read their own list;
- unit clerks (a third): read the inbox, sign the first ticket waiting, reply to the first signed
  one, open a ticket's detail;
- supervisors (the rest): read the queues (returned, overdue, to review), review and close one.
``--loop`` runs the issue's loop instead: each member creates → dispatches → signs → replies → reads
the inbox, with an operator and a unit session of their own.

Prints one JSON object: per request kind count / p50 / p99 / max, requests per second, every
status >= 500 and every client error or timeout, and the machine's reference figures measured in
the same run (sequential /healthz; raw single-connection INSERT+COMMIT rate of the database in use),
with the throughput stated as a ratio to that rate.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "demo12345"
PG_SERVER = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TEXTS = [
    ("城关街道人民路{n}号井盖缺失，夜间行人容易踩空", "城关街道"),
    ("滨江街道花园小区楼下烧烤店油烟太大，晚上噪音扰民到十二点", "滨江街道"),
    ("高桥镇幸福路路灯坏了{n}天，晚上很黑", "高桥镇"),
    ("沙坪镇河堤村自来水停水两天了，没有任何通知", "沙坪镇"),
    ("咨询社保转移到外地需要带什么材料，在哪里办理", None),
    ("公司拖欠工资{n}个月，老板联系不上，请帮忙讨薪", None),
    ("东城街道建设路施工工地夜间施工噪音扰民", "东城街道"),
    ("咨询医保异地就医备案怎么办理", None),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.server_errors: list[str] = []
        self.client_errors: list[str] = []
        self.refusals: dict[str, int] = defaultdict(int)

    def add(self, kind: str, seconds: float, status: int | None, detail: str = "") -> None:
        with self.lock:
            self.times[kind].append(seconds)
            if status is None:
                self.client_errors.append(f"{kind}: {detail}")
            elif status >= 500:
                self.server_errors.append(f"{kind}: {status} {detail[:200]}")
            elif status >= 400:
                self.refusals[f"{kind} {status}"] += 1


class Staff:
    """One logged-in member of staff with their own HTTP session."""

    def __init__(self, base: str, username: str, stats: Stats, timeout: float) -> None:
        self.base, self.stats, self.timeout = base + "/api/v1", stats, timeout
        self.http = requests.Session()
        r = self.http.post(self.base + "/auth/login", json={"username": username, "password": PASSWORD}, timeout=60)
        r.raise_for_status()
        body = r.json()
        self.user = body["user"]
        self.http.headers["X-CSRFToken"] = body["csrf_token"]

    def call(self, kind: str, method: str, path: str, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            r = self.http.request(method, self.base + path, timeout=self.timeout, **kw)
        except requests.RequestException as e:
            self.stats.add(kind, time.perf_counter() - start, None, type(e).__name__)
            return None
        self.stats.add(kind, time.perf_counter() - start, r.status_code, r.text if r.status_code >= 500 else "")
        if r.status_code >= 400:
            return None
        return r.json()


def operator_round(op: Staff, rng: random.Random, units: list[dict]) -> None:
    template, area = rng.choice(TEXTS)
    content = template.format(n=rng.randint(2, 99))
    op.call("suggest", "GET", "/suggest", params={"text": content})
    op.call("similar", "GET", "/tickets/similar", params={"text": content, "area": area or ""})
    if rng.random() < 0.3:
        op.call("knowledge", "GET", "/knowledge", params={"q": content[:4]})
    phone = f"139{rng.randint(10_000_000, 99_999_999)}"
    t = op.call("create", "POST", "/tickets", json={"content": content, "caller_phone": phone, "area": area})
    if t is None:
        return
    unit = rng.choice(units)
    op.call("dispatch", "POST", f"/tickets/{t['id']}/dispatch", json={"unit_id": unit["id"], "version": t["version"]})
    if rng.random() < 0.2:
        op.call("caller_history", "GET", f"/callers/{phone}/history")
    if rng.random() < 0.2:
        op.call("list", "GET", "/tickets", params={"per_page": 20})


def unit_round(clerk: Staff, rng: random.Random) -> None:
    inbox = clerk.call("inbox", "GET", "/inbox")
    if not inbox:
        return
    items = inbox["items"]
    waiting = [t for t in items if t["status"] == "dispatched" and t["unit"] and t["unit"]["id"] == clerk.user["unit_id"]]
    if waiting:
        t = waiting[0]
        clerk.call("sign", "POST", f"/tickets/{t['id']}/sign", json={"version": t["version"]})
    signed = [t for t in items if t["status"] == "signed" and t["unit"] and t["unit"]["id"] == clerk.user["unit_id"]]
    if signed:
        t = signed[0]
        clerk.call("detail", "GET", f"/tickets/{t['id']}")
        clerk.call("reply", "POST", f"/tickets/{t['id']}/reply", json={"outcome": "已现场处理完毕", "version": t["version"]})


def supervisor_round(sup: Staff, rng: random.Random) -> None:
    sup.call("queue", "GET", "/tickets", params={"status": "returned", "per_page": 20})
    sup.call("queue", "GET", "/tickets", params={"overdue": "true", "per_page": 20})
    replied = sup.call("queue", "GET", "/tickets", params={"status": "replied", "per_page": 5, "order": "due"})
    if replied and replied["items"]:
        t = rng.choice(replied["items"])
        r = sup.call("review", "POST", f"/tickets/{t['id']}/review", json={"approve": True, "version": t["version"]})
        if r:
            sup.call("close", "POST", f"/tickets/{t['id']}/close", json={"version": r["version"]})


def loop_round(op: Staff, clerk: Staff, rng: random.Random) -> None:
    """The issue's closed loop: create → dispatch → sign → reply → inbox."""
    template, area = rng.choice(TEXTS)
    t = op.call("create", "POST", "/tickets", json={"content": template.format(n=rng.randint(2, 99)),
                                                    "caller_phone": f"139{rng.randint(10_000_000, 99_999_999)}"})
    if t is None:
        return
    t = op.call("dispatch", "POST", f"/tickets/{t['id']}/dispatch", json={"unit_id": clerk.user["unit_id"]})
    if t is None:
        return
    t = clerk.call("sign", "POST", f"/tickets/{t['id']}/sign", json={})
    if t is None:
        return
    clerk.call("reply", "POST", f"/tickets/{t['id']}/reply", json={"outcome": "已处理"})
    clerk.call("inbox", "GET", "/inbox")


def run_load(base: str, staff: int, seconds: float, loop: bool = False, timeout: float = 30.0, seed: int = 1) -> dict:
    stats = Stats()
    ops = [f"op{i}" for i in range(1, 7)]
    unit_names = [f"t{i:02d}" for i in range(1, 31)] + [f"d{i:02d}" for i in range(1, 31)]
    members: list[tuple[str, Any]] = []
    admin = Staff(base, "super1", stats, timeout)
    units = [u for u in admin.call("units", "GET", "/units")["items"] if u["kind"] in ("township", "department")]
    for k in range(staff):
        if loop:
            members.append(("loop", (Staff(base, ops[k % len(ops)], stats, timeout),
                                     Staff(base, unit_names[k % len(unit_names)], stats, timeout))))
        elif k % 6 in (0, 2, 4):
            members.append(("operator", Staff(base, ops[k % len(ops)], stats, timeout)))
        elif k % 6 in (1, 3):
            members.append(("unit", Staff(base, unit_names[k % len(unit_names)], stats, timeout)))
        else:
            members.append(("supervisor", Staff(base, "super1" if k % 2 else "super2", stats, timeout)))
    # Units receive what operators dispatch: send operators' tickets to the clerks taking part.
    clerk_units = [m.user["unit_id"] for kind, m in members if kind == "unit"]
    targets = [u for u in units if u["id"] in clerk_units] or units
    stats.times.clear()
    stop = time.monotonic() + seconds
    rounds = defaultdict(int)

    def work(kind: str, member: Any, k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        while time.monotonic() < stop:
            if kind == "loop":
                loop_round(*member, rng)
            elif kind == "operator":
                operator_round(member, rng, targets)
            elif kind == "unit":
                unit_round(member, rng)
            else:
                supervisor_round(member, rng)
            rounds[kind] += 1

    threads = [threading.Thread(target=work, args=(kind, m, k), daemon=True) for k, (kind, m) in enumerate(members)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + timeout + 30)
    elapsed = time.perf_counter() - started
    all_times = [x for v in stats.times.values() for x in v]
    return {
        "staff": staff, "mix": "loop" if loop else "day", "seconds": round(elapsed, 1),
        "requests": len(all_times), "requests_per_s": round(len(all_times) / elapsed, 1),
        "rounds": dict(rounds),
        "p50_ms": round(pct(all_times, 50) * 1000, 1), "p99_ms": round(pct(all_times, 99) * 1000, 1),
        "max_ms": round(max(all_times, default=0) * 1000, 1),
        "by_kind": {k: {"n": len(v), "p50_ms": round(pct(v, 50) * 1000, 1), "p99_ms": round(pct(v, 99) * 1000, 1),
                        "max_ms": round(max(v) * 1000, 1)} for k, v in sorted(stats.times.items())},
        "server_errors": len(stats.server_errors), "server_error_samples": stats.server_errors[:5],
        "client_errors": len(stats.client_errors), "client_error_samples": stats.client_errors[:5],
        "refusals": dict(stats.refusals),
        "load_average_1m_after": round(os.getloadavg()[0], 2),  # other work on the machine, for reading the figures
    }  # fmt: skip


# ---------------------------------------------------------------------- the machine's reference
def reference_commit_rate(database_url: str, n: int = 2000) -> float:
    """Raw single-connection INSERT+COMMIT per second on the database in use (no ORM, no app)."""
    from sqlalchemy import create_engine, text

    if database_url.startswith("sqlite"):
        import sqlite3

        path = Path(database_url[len("sqlite:///"):]).with_name("reference.db")
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS ref (id INTEGER PRIMARY KEY, v TEXT)")
        start = time.perf_counter()
        for i in range(n):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO ref (v) VALUES (?)", (str(i),))
            conn.execute("COMMIT")
        rate = n / (time.perf_counter() - start)
        conn.close()
        path.unlink(missing_ok=True)
        return rate
    eng = create_engine(database_url)
    with eng.connect() as c:
        c.execute(text("CREATE TEMP TABLE ref (id serial PRIMARY KEY, v text)"))
        c.commit()
        start = time.perf_counter()
        for i in range(n):
            c.execute(text("INSERT INTO ref (v) VALUES (:v)"), {"v": str(i)})
            c.commit()
        rate = n / (time.perf_counter() - start)
    eng.dispose()
    return rate


def sequential_healthz(base: str, n: int = 200) -> float:
    http = requests.Session()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        http.get(base + "/healthz", timeout=10)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


# ---------------------------------------------------------------------- a server of its own
class Server:
    """``python run.py`` on a fresh data folder (SQLite default, or the given database)."""

    def __init__(self, database: str, web_only: bool = False, extra_env: dict | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-load-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        if database == "postgres":
            from sqlalchemy import create_engine, text

            name = f"hotline_load_{os.getpid()}"
            admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                c.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self.pg_name = name
            self.database_url = PG_SERVER.rsplit("/", 1)[0] + "/" + name
        else:
            self.pg_name = None
            self.database_url = f"sqlite:///{self.dir}/hotline.db"
        env = dict(os.environ, HOTLINE_DATA_DIR=str(self.dir), DATABASE_URL=self.database_url,
                   HOTLINE_SIP_LISTEN=f"127.0.0.1:{free_port()}", HOTLINE_MESSAGE_QUEUE="", PYTHONUNBUFFERED="1",
                   **(extra_env or {}))  # fmt: skip
        env.pop("REDIS_URL", None)
        self.log = open(self.dir / "server.log", "w")
        cmd = [sys.executable, "run.py", "--port", str(self.port)] + (["web"] if web_only else [])
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + (self.dir / "server.log").read_text()[-3000:])
            try:
                if requests.get(self.base + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError("server did not come up")

    def log_text(self) -> str:
        return (self.dir / "server.log").read_text()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        if self.pg_name:
            from sqlalchemy import create_engine, text

            admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'))
            admin.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--staff", type=int, nargs="+", default=[20], help="concurrent staff (several: one run each)")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--loop", action="store_true", help="the create→dispatch→sign→reply→inbox loop only")
    p.add_argument("--url", help="an already running server (no reference commit rate then)")
    p.add_argument("--web-only", action="store_true", help="start `run.py web` (no SIP bridge, no scheduler)")
    args = p.parse_args()
    server = None if args.url else Server(args.database, web_only=args.web_only)
    base = args.url or server.base
    try:
        out: dict[str, Any] = {"database": args.database, "cpus": os.cpu_count(), "runs": []}
        out["reference"] = {"healthz_sequential_p50_ms": round(sequential_healthz(base), 2)}
        if server:
            rate = reference_commit_rate(server.database_url)
            out["reference"]["raw_insert_commit_per_s"] = round(rate, 1)
        for n in args.staff:
            run = run_load(base, n, args.seconds, loop=args.loop)
            if server:
                writes = sum(run["by_kind"].get(k, {}).get("n", 0)
                             for k in ("create", "dispatch", "sign", "reply", "review", "close"))  # fmt: skip
                run["writes_per_s"] = round(writes / run["seconds"], 1)
                run["writes_per_s_over_raw_commit_rate"] = round(run["writes_per_s"] / rate, 4)
            out["runs"].append(run)
            print(json.dumps(run, ensure_ascii=False), file=sys.stderr, flush=True)
        print(json.dumps(out, ensure_ascii=False, indent=1))
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
