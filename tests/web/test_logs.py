"""No phone number in any format, no token, password or session cookie reaches a log line: the real
server (``python run.py web``, and gunicorn with its access log) is sent such requests, one of them
a server error whose SQL carries a number, and its whole log is grepped."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from hotline.app import Hotline
from hotline.config import Settings
from hotline.schema import upgrade
from tests.core.conftest import PASSWORD, make_city
from tests.web.conftest import ROOT, free_port

NUMBERS = ["13900001313", "13812345678", "057188886666", "13700002468"]


@pytest.fixture
def server_env(tmp_path):
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    upgrade(url)
    env = {"DATABASE_URL": url, "HOTLINE_DATA_DIR": str(tmp_path / "data"), "HOTLINE_DEMO": "0",
           "HOTLINE_MESSAGE_QUEUE": "", "REDIS_URL": "", "HOTLINE_SIP": "off", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    s = Settings.from_env(env)
    hl = Hotline(s)
    try:
        city = make_city(hl)
        token = hl.directory.issue_token(city.operator, "integration")
    finally:
        hl.dispose()
    return env, url, token


def _start(cmd, env, log_path, base):
    log = log_path.open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                return proc, log
        except requests.RequestException:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.3)


def _stop(proc, log):
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
    log.close()


def _send_the_round(base: str, db_url: str, token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    g = lambda path, **kw: requests.get(base + path, timeout=10, **kw)  # noqa: E731
    # Numbers in the query string, written every way, raw and percent-encoded.
    g("/api/v1/tickets?caller_phone=139-0000-1313", headers=bearer)
    g("/api/v1/tickets", params={"caller_phone": "+86 138 1234 5678"}, headers=bearer)
    g("/api/v1/tickets", params={"q": "联系电话0571-8888-6666"}, headers=bearer)
    g("/api/v1/callers/%2B8613700002468/history", headers=bearer)
    g("/api/v1/tickets?caller_phone=%2B86-139-0000-1313", headers=bearer)
    # An api_key in the query, a bearer token and a session cookie.
    g(f"/open311/v2/requests.json?api_key={token}")
    g(f"/api/v1/tickets?api_key={token}")
    s = requests.Session()
    s.post(base + "/api/v1/auth/login", json={"username": "op1", "password": "wrong-" + PASSWORD}, timeout=10)
    r = s.post(base + "/api/v1/auth/login", json={"username": "op1", "password": PASSWORD}, timeout=10)
    assert r.status_code == 200
    s.get(base + "/api/v1/auth/me", timeout=10)
    # A server error whose SQL parameters carry numbers: the database refuses every new ticket.
    conn = sqlite3.connect(db_url[len("sqlite:///"):])
    # (An error the app does not expect, so it is logged with its traceback: "no such table".)
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON tickets BEGIN INSERT INTO disk_says_no VALUES (1); END")
    conn.commit()
    r = requests.post(base + "/api/v1/tickets", headers=bearer, timeout=10, json={
        "content": "请回电 139-0000-1313 或 13812345678", "caller_phone": "13700002468", "address": "幸福路8号 0571-88886666"})
    assert r.status_code == 500 and "13700002468" not in r.text and "disk_says_no" not in r.text
    conn.execute("DROP TRIGGER boom")
    conn.commit()
    conn.close()


def _assert_clean(text: str, token: str, session_cookie: str | None = None) -> None:
    digits = "".join(c for c in text if c.isdigit() or c == "\n")
    for n in NUMBERS:
        assert n not in digits, f"{n} in the log:\n{text[-4000:]}"
    assert token not in text and token[3:20] not in text
    assert PASSWORD not in text
    if session_cookie:
        assert session_cookie[:20] not in text


def test_run_py_web_logs_no_number_token_or_password(server_env, tmp_path):
    env, url, token = server_env
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "web.log"
    proc, log = _start([sys.executable, "run.py", "--port", str(port), "--no-demo", "web"], env, log_path, base)
    try:
        _send_the_round(base, url, token)
        time.sleep(0.3)
    finally:
        _stop(proc, log)
    text = log_path.read_text()
    assert "GET /api/v1/tickets?caller_phone=" in text  # the access log is on, and was grepped
    assert "Traceback" in text or "unhandled error" in text  # so was a server error's traceback
    assert "login failed" in text
    _assert_clean(text, token)


@pytest.mark.slow
def test_gunicorn_access_and_error_logs_are_clean_too(server_env, tmp_path):
    pytest.importorskip("gunicorn")
    env, url, token = server_env
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "gunicorn.log"
    cmd = [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "4", "-b", f"127.0.0.1:{port}",
           "--access-logfile", "-", "--error-logfile", "-", "web.wsgi:app"]  # fmt: skip
    proc, log = _start(cmd, env, log_path, base)
    try:
        _send_the_round(base, url, token)
        time.sleep(0.3)
    finally:
        _stop(proc, log)
    text = log_path.read_text()
    assert '"GET /api/v1/tickets?caller_phone=' in text  # gunicorn's access log lines
    _assert_clean(text, token)


def test_sqlalchemy_engines_hide_parameters(tmp_path):
    from hotline.db import make_engine

    for url in (f"sqlite:///{tmp_path / 'x.db'}", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"):
        engine = make_engine(url)
        assert engine.hide_parameters is True
        engine.dispose()


def test_installed_masking_covers_loggers_with_their_own_handlers(capfd):
    """gunicorn's and werkzeug's loggers have handlers of their own and do not propagate."""
    import logging

    from hotline.privacy import install_log_masking

    install_log_masking()
    lg = logging.getLogger("test.own-handler")
    lg.propagate = False
    h = logging.StreamHandler(sys.stderr)
    lg.addHandler(h)
    try:
        lg.warning('"GET /x?caller_phone=%s&api_key=%s HTTP/1.1"', "139 0000 1313", "hl_secretsecret123")
        try:
            raise ValueError("bad number 13900001313")
        except ValueError:
            lg.exception("failed for %s", "+86-139-0000-1313")
    finally:
        lg.removeHandler(h)
    err = capfd.readouterr().err
    assert "139****1313" in err and "00001313" not in err.replace("139****1313", "") and "hl_secretsecret123" not in err
    assert "Traceback" in err
