"""Two web processes share pushes through Redis: a ticket dispatched through one process reaches
a unit's screen held by the other, and still no other unit; a SIP-side process without a web app
pops a screen through the same queue."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
import redis
import requests

from hotline.app import Hotline
from tests.core.conftest import make_city
from tests.web.conftest import ROOT, Listener, api_login, free_port, make_settings

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def two_servers(sqlite_template, tmp_path):
    if not _redis_up():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip("Redis not reachable")
    import shutil

    db = tmp_path / "shared.db"
    shutil.copy(sqlite_template, db)
    settings = make_settings(db, tmp_path / "data")
    hl = Hotline(settings)
    city = make_city(hl)
    channel = f"hotline-test-{uuid.uuid4().hex[:8]}"
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        cmd = [sys.executable, "-m", "tests.web.serve_app", "--db", settings.database_url, "--port", str(port),
               "--data", str(tmp_path / "data"), "--mq", REDIS_URL, "--channel", channel]  # fmt: skip
        procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs):
            _wait_up(url, proc)
        yield city, urls, channel
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        hl.dispose()


def test_two_processes_share_pushes_through_redis(two_servers):
    city, (a, b), channel = two_servers
    township = Listener(a, api_login(a, "t01"))
    roads_on_a = Listener(a, api_login(a, "d02"))
    roads_on_b = Listener(b, api_login(b, "d02"))
    sup_on_b = Listener(b, api_login(b, "sup"))
    try:
        op = api_login(b, "op1")  # the operator works on the other process
        t = op.post(f"{b}/api/v1/tickets", json={"content": "人民路路灯不亮", "caller_phone": "13812345678"}).json()
        start = time.perf_counter()
        r = op.post(f"{b}/api/v1/tickets/{t['id']}/dispatch", json={"unit_id": city.township.id, "version": t["version"]})
        assert r.status_code == 200, r.text
        _, ev, at = township.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == t["id"] and d["action"] == "dispatch")
        assert at - start < 1.0
        sup_on_b.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == t["id"] and d["action"] == "dispatch")
        # A unit signs on process A: the operator's console on process B hears of it.
        op_on_b = Listener(b, op)
        try:
            s = api_login(a, "t01")
            assert s.post(f"{a}/api/v1/tickets/{t['id']}/sign", json={}).status_code == 200
            op_on_b.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == t["id"] and d["action"] == "sign")
        finally:
            op_on_b.close()
        time.sleep(0.4)
        assert roads_on_a.named("ticket") == [] and roads_on_b.named("ticket") == []
        assert "13812345678" not in township.dump()
        # Each event is pushed once, by the process that made it.
        assert len([d for d in township.named("ticket") if d["action"] == "dispatch"]) == 1
    finally:
        for lst in (township, roads_on_a, roads_on_b, sup_on_b):
            lst.close()


def test_a_process_without_the_web_app_pops_a_screen(two_servers):
    """The SIP bridge assigns a call in its own process; the operator's browser is on a web process."""
    from web.live import attach_emitter

    city, (a, _b), channel = two_servers
    op1 = Listener(a, api_login(a, "op1"))
    op2 = Listener(a, api_login(a, "op2"))
    sip_hl = Hotline(city.hl.settings)  # the SIP process: same database, its own bus, no web app
    try:
        attach_emitter(sip_hl, REDIS_URL, channel=channel)
        sip_hl.calls.set_state(city.operator, city.operator.user_id, "available")
        call_id = sip_hl.calls.offered("13812345678")
        sip_hl.calls.assign(call_id, city.operator.user_id)
        _, pop, _ = op1.wait_for(lambda n, d: n == "call_pop")
        assert pop["call_id"] == call_id
        time.sleep(0.3)
        assert op2.named("call_pop") == []
    finally:
        op1.close()
        op2.close()
        sip_hl.dispose()
