"""Security headers on every response, the session cookie's flags, the proxy in front, Socket.IO's
allowed origins, CSRF only for cookie writes, and formula-safe Excel exports."""
from __future__ import annotations

import io

import pytest
import requests
import socketio

from tests.core.conftest import PASSWORD
from tests.web.conftest import LiveServer, api_login


@pytest.mark.parametrize("path", ["/login", "/api/v1/tickets", "/api/v1/openapi.json", "/open311/v2/services.json",
                                  "/static/js/common.js", "/no-such-page", "/healthz"])
def test_every_response_carries_the_security_headers(client, path):
    r = client.get(path)
    csp = r.headers["Content-Security-Policy"]
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";")}
    assert directives["script-src"] == "script-src 'self'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'" and directives["object-src"] == "object-src 'none'"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"


def test_templates_carry_no_inline_script_or_handler():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "web" / "templates"
    for f in root.rglob("*.html"):
        html = f.read_text()
        for m in re.finditer(r"<script(?P<attrs>[^>]*)>", html):
            attrs = m.group("attrs")
            assert "src=" in attrs or 'type="application/json"' in attrs, (f.name, m.group(0))
        assert not re.search(r"\son[a-z]+\s*=", html), f.name


def test_session_cookie_is_secure_when_configured(web_hl, city):
    from web import create_app

    plain = create_app(web_hl, testing=True, message_queue=None).test_client()
    r = plain.post("/api/v1/auth/login", json={"username": "op1", "password": PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    web_hl.settings.secure_cookies = True
    secure = create_app(web_hl, testing=True, message_queue=None).test_client()
    r = secure.post("/api/v1/auth/login", json={"username": "op1", "password": PASSWORD})
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]


def test_behind_a_tls_proxy_the_forwarded_scheme_and_address_count_only_when_configured(web_hl, city, caplog):
    from web import create_app

    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    app = create_app(web_hl, testing=True, message_queue=None)
    assert "Strict-Transport-Security" not in app.test_client().get("/login", headers=headers).headers
    web_hl.settings.proxy_fix = True
    app = create_app(web_hl, testing=True, message_queue=None)
    r = app.test_client().get("/login", headers=headers)
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    # The login lock counts the client's address, not the proxy's.
    web_hl.settings.login_max_failures_address = 2
    app = create_app(web_hl, testing=True, message_queue=None)
    c = app.test_client()
    for _ in range(2):
        c.post("/api/v1/auth/login", json={"username": "op1", "password": "bad-password"}, headers=headers)
    assert c.post("/api/v1/auth/login", json={"username": "op2", "password": PASSWORD}, headers=headers).status_code == 429
    other = {"X-Forwarded-For": "198.51.100.1"}
    assert c.post("/api/v1/auth/login", json={"username": "op2", "password": PASSWORD}, headers=other).status_code == 200


def _connect(url: str, cookies: str, origin: str) -> bool:
    """A raw websocket handshake with exactly this Origin (as a browser sends it), then Socket.IO's
    connect packet: True when the server let the user in."""
    import websocket

    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    try:
        ws = websocket.create_connection(ws_url, origin=origin, cookie=cookies, timeout=5)
    except websocket.WebSocketBadStatusException:
        return False
    try:
        assert ws.recv().startswith("0")  # engine.io open
        ws.send("40")  # socket.io connect
        return ws.recv().startswith("40")
    finally:
        ws.close()


def test_socketio_refuses_a_foreign_origin(live, city):
    s = api_login(live.url, "t01")
    cookies = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
    assert _connect(live.url, cookies, live.url)  # the center's own page
    assert not _connect(live.url, cookies, "http://evil.example")
    assert not _connect(live.url, cookies, f"http://localhost:{live.port}")  # another host name
    # Polling transport too (what a browser falls back to).
    r = requests.get(f"{live.url}/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://evil.example"},
                     cookies=s.cookies, timeout=5)
    assert r.status_code == 400


def test_configured_origins_replace_the_same_host_default(web_hl, city):
    from web import create_app

    web_hl.settings.allowed_origins = ("https://hotline.city.gov.cn",)
    srv = LiveServer(create_app(web_hl, testing=True, message_queue=None))
    try:
        s = api_login(srv.url, "t01")
        cookies = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
        assert _connect(srv.url, cookies, "https://hotline.city.gov.cn")
        assert not _connect(srv.url, cookies, "http://evil.example")
    finally:
        srv.stop()


def test_bearer_token_requests_need_no_csrf_anywhere(client, city, web_hl):
    from hotline.users import Actor

    r = client.post("/api/v1/auth/login", json={"username": "mgr", "password": PASSWORD})
    token = web_hl.directory.issue_token(Actor.of(web_hl.directory.user(city.manager.user_id)), "bi")
    bearer = {"Authorization": f"Bearer {token}"}
    other = client.application.test_client()
    r = other.post("/api/v1/reports/snapshots/2026-11-22", headers=bearer)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json["date"] == "2026-11-22"
    # A cookie session still needs the CSRF token for the same write.
    r = client.post("/api/v1/reports/snapshots/2026-11-22")
    assert r.status_code == 400 and r.json["error"] == "csrf_failed"


def test_excel_cells_that_look_like_formulas_are_written_as_text():
    from openpyxl import load_workbook

    from scheduler.export import to_xlsx

    evil = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1"]
    rate = {"numerator": 1, "denominator": 2, "value": 0.5}
    rates = {k: dict(rate) for k in __import__("scheduler.rates", fromlist=["RATES"]).RATES}
    rep = {
        "date": "2026-11-22", "computed_at": "2026-11-23T00:10:00", "rates": rates,
        "units": [{"rank": i + 1, "code": f"U{i}", "name": name, "score": 0.5, "rates": rates} for i, name in enumerate(evil)],
        "operators": [{"user_id": 1, "name": "=cmd|' /C calc'!A0", "rates": rates}],
    }  # fmt: skip
    wb = load_workbook(io.BytesIO(to_xlsx(rep, [])))
    names = [row[2] for row in wb["单位排名"].iter_rows(min_row=2)]
    assert [c.value for c in names] == evil
    assert all(c.data_type == "s" for c in names)
    op = wb["话务员"]["B2"]
    assert op.value == "=cmd|' /C calc'!A0" and op.data_type == "s"
    assert wb["指标"]["C5"].data_type == "n"  # numbers stay numbers
