"""The production WSGI entry (``web.wsgi:app``): built from the environment, with the classifier
attached; and served by gunicorn's gthread worker, websockets included."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from hotline.app import Hotline
from hotline.config import Settings
from hotline.schema import upgrade
from tests.core.conftest import make_city
from tests.web.conftest import ROOT, Listener, api_login, free_port


@pytest.fixture
def wsgi_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'wsgi.db'}"
    upgrade(url)
    env = {"DATABASE_URL": url, "HOTLINE_DATA_DIR": str(tmp_path / "data"), "HOTLINE_DEMO": "0",
           "HOTLINE_MESSAGE_QUEUE": "", "REDIS_URL": ""}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def test_wsgi_module_builds_the_app_from_the_environment(wsgi_env):
    sys.modules.pop("web.wsgi", None)
    wsgi = importlib.import_module("web.wsgi")
    try:
        assert wsgi.hl.settings.database_url == wsgi_env["DATABASE_URL"]
        assert wsgi.hl.suggester is not None  # suggestions.attach ran (no model yet: no suggestions)
        client = wsgi.app.test_client()
        r = client.get("/healthz")
        assert r.status_code == 200 and r.get_json() == {"status": "ok", "database": "sqlite"}
        assert client.get("/login").status_code == 200
        # The session key is kept in the data folder, so that every worker signs cookies alike.
        assert (Path(wsgi_env["HOTLINE_DATA_DIR"]) / "secret_key").exists()
    finally:
        wsgi.hl.dispose()
        sys.modules.pop("web.wsgi", None)


@pytest.mark.slow
def test_gunicorn_gthread_serves_pages_api_and_websockets(wsgi_env, tmp_path):
    """`gunicorn -w 1 --threads N 'web.wsgi:app'` as README says: HTTP and Socket.IO over websocket."""
    pytest.importorskip("gunicorn")
    hl = Hotline(Settings.from_env())
    try:
        city = make_city(hl)
    finally:
        hl.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "20", "-b", f"127.0.0.1:{port}", "web.wsgi:app"],
        cwd=ROOT, env={**os.environ, **wsgi_env}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    listener = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # The first request builds the app in the worker (jieba, model): give it time on a
                # loaded machine instead of failing on a one-second read.
                if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.2)
        sup = api_login(base, "sup")
        assert sup.get(f"{base}/supervisor", timeout=10).status_code == 200
        listener = Listener(base, sup)
        assert listener.sio.transport() == "websocket"
        assert listener.call("hello")["user_id"] == city.supervisor.user_id
        # A step made through this gunicorn process is pushed to the supervisor's socket.
        op = api_login(base, "op1")
        r = op.post(f"{base}/api/v1/tickets", json={"content": "人民路路灯不亮", "caller_phone": "13812345678"}, timeout=10)
        assert r.status_code == 201, r.text
        tid = r.json()["id"]
        listener.wait_for(lambda name, d: name == "ticket" and d.get("ticket_id") == tid, timeout=5)
    finally:
        if listener is not None:
            listener.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
        log.close()
