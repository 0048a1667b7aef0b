"""Login, logout, CSRF, each role's workbench and the refusals, the page helpers, local assets."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.core.conftest import PASSWORD

WEB = Path(__file__).resolve().parents[2] / "web"
PAGES = {"/console": "话务员工作台", "/unit": "成员单位工作台", "/supervisor": "督办班长工作台", "/expert": "专家坐席",
         "/dashboard": "管理者看板"}  # fmt: skip
# Who may open what (admin runs the center: not a unit's or a desk's screen).
ALLOWED = {
    "op1": {"/console"}, "t01": {"/unit"}, "sup": {"/supervisor"}, "lawyer": {"/expert"}, "mgr": {"/dashboard"},
    "admin": {"/console", "/supervisor", "/dashboard"},
}  # fmt: skip
HOME = {"op1": "/console", "t01": "/unit", "sup": "/supervisor", "lawyer": "/expert", "mgr": "/dashboard", "admin": "/dashboard"}


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    if not m:
        m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return m.group(1)


def login(client, username: str, password: str = PASSWORD, **kw):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password}, **kw)


def test_login_page_has_a_csrf_token_and_no_cdn(client):
    r = client.get("/login")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'name="csrf_token"' in html and "登录" in html
    assert "http://" not in html and "https://" not in html


def test_login_without_csrf_token_is_refused(client):
    r = client.post("/login", data={"username": "op1", "password": PASSWORD})
    assert r.status_code == 400
    assert client.get("/console").status_code == 302  # still not logged in


def test_wrong_password_stays_on_the_login_page(client):
    r = login(client, "op1", "wrong-password")
    assert r.status_code == 200 and "用户名或密码错误" in r.get_data(as_text=True)
    assert client.get("/console").status_code == 302


@pytest.mark.parametrize("username", sorted(HOME))
def test_each_role_lands_on_its_own_workbench_and_cannot_open_another(app, username):
    client = app.test_client()
    r = login(client, username)
    assert r.status_code == 302 and r.headers["Location"].endswith(HOME[username])
    assert client.get("/").headers["Location"].endswith(HOME[username])
    for path, title in PAGES.items():
        r = client.get(path)
        if path in ALLOWED[username]:
            assert r.status_code == 200, path
            html = r.get_data(as_text=True)
            assert title in html and 'name="csrf-token"' in html
            assert "/static/vendor/socket.io.min.js" in html
        else:
            assert r.status_code == 403, (username, path)
            assert "无权访问" in r.get_data(as_text=True)


def test_anonymous_is_sent_to_login_and_back(client):
    r = client.get("/supervisor")
    assert r.status_code == 302 and "/login?next=/supervisor" in r.headers["Location"]
    token = csrf_of(client.get("/login?next=/supervisor").get_data(as_text=True))
    r = client.post("/login?next=/supervisor", data={"csrf_token": token, "username": "sup", "password": PASSWORD})
    assert r.headers["Location"].endswith("/supervisor")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_next_never_leaves_the_site(client, target):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login", query_string={"next": target},
                    data={"csrf_token": token, "username": "op1", "password": PASSWORD})  # fmt: skip
    assert r.headers["Location"].endswith("/console")


def test_logout_needs_post_with_csrf(client):
    login(client, "op1")
    assert client.get("/console").status_code == 200
    assert client.post("/logout", data={}).status_code == 400  # no token: still logged in
    assert client.get("/console").status_code == 200
    token = csrf_of(client.get("/logout").get_data(as_text=True))
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302
    assert client.get("/console").status_code == 302


def test_a_forged_form_post_cannot_log_in_through_the_api_either(client):
    # The JSON API checks X-CSRFToken on session writes: a page-less cross-site POST fails.
    login(client, "op1")
    r = client.post("/api/v1/tickets", json={"content": "伪造请求"})
    assert r.status_code == 400 and r.get_json()["error"] in ("invalid_input", "csrf_failed")


def test_dashboard_figures(app, city):
    hl = city.hl
    city.closed()
    t = city.new_ticket()
    hl.tickets.close_first_contact(city.operator, t.id, "已当场答复")
    call = hl.calls.offered("13812345678")
    hl.calls.answered(call, city.operator.user_id)
    client = app.test_client()
    login(client, "mgr")
    d = client.get("/workbench/dashboard.json").get_json()
    assert d["today"]["accepted"] == 2 and d["today"]["closed"] == 2 and d["today"]["first_contact"] == 1
    assert d["rates"]["first_contact"] == {"num": 1, "den": 2, "value": 50.0}
    assert d["rates"]["connection"] == {"num": 1, "den": 1, "value": 100.0}
    assert [s["status"] for s in d["tickets_by_status"]][:3] == ["accepted", "dispatched", "returned"]
    assert {o["state"] for o in d["operators"]} >= {"available", "on_call", "wrap_up", "away", "offline"}
    assert len(d["hourly"]) == 24 and d["hourly"][9] == 2
    other = app.test_client()
    login(other, "t01")
    assert other.get("/workbench/dashboard.json").status_code == 403
    assert app.test_client().get("/workbench/dashboard.json").status_code == 401


def test_my_tickets_lists_only_my_own(app, city):
    mine = city.new_ticket(content="我受理的")
    city.hl.tickets.accept(city.operator2, content="别人受理的")
    client = app.test_client()
    login(client, "op1")
    items = client.get("/workbench/my-tickets").get_json()["items"]
    assert [t["id"] for t in items] == [mine.id]
    unit = app.test_client()
    login(unit, "t01")
    assert unit.get("/workbench/my-tickets").status_code == 403


def test_assets_are_local():
    """Closed networks: no template, script or stylesheet of ours loads anything from outside."""
    ours = list((WEB / "templates").rglob("*.html")) + list((WEB / "static" / "js").rglob("*.js")) + list(
        (WEB / "static" / "css").rglob("*.css")
    )
    assert ours
    for f in ours:
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), f
        assert "cdn" not in text.lower(), f
    for vendor in ("socket.io.min.js", "echarts.common.min.js"):
        p = WEB / "static" / "vendor" / vendor
        assert p.exists() and p.stat().st_size > 10_000


def api_client(app, username: str):
    """A test client logged in through the API, sending the CSRF header as the pages' JavaScript does."""
    client = app.test_client()
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200
    return client, {"X-CSRFToken": r.get_json()["csrf_token"]}


def test_supervisor_page_has_reopen_and_split_and_asks_reasons_inline(app):
    client = app.test_client()
    login(client, "sup")
    html = client.get("/supervisor").get_data(as_text=True)
    assert 'id="q-closed"' in html and 'id="lookup-form"' in html and 'id="lookup-number"' in html
    assert "重办 / 拆单" in html and "回访基本满意/不满意或未解决" in html
    js = client.get("/static/js/supervisor.js").get_data(as_text=True)
    assert "prompt(" not in js and "confirm(" not in js.replace("confirmForm(", "")  # no browser dialogs
    for step in ('"reopen"', '"split"', '"extension/refuse"', "/api/v1/tickets/by-number/"):
        assert step in js


def test_what_the_supervisor_page_calls_for_reopen_and_split(app, city):
    """The requests supervisor.js makes, through the session and the CSRF header."""
    hl = city.hl
    closed = city.closed(content="路灯修了又坏")
    from sqlalchemy import select

    from hotline.callbacks import Callback

    with hl.uow(readonly=True) as uow:
        cb = uow.session.scalar(select(Callback).where(Callback.ticket_id == closed.id))
    hl.tickets.record_callback(city.operator, cb.id, "basic", False, "还没彻底修好")
    master = city.dispatched(content="人民路井盖缺失")
    child = hl.tickets.merge(city.operator, city.new_ticket(content="天气预报说明天下雨").id, master.id)
    client, h = api_client(app, "sup")
    # The queue: closed, less than satisfied.
    items = client.get("/api/v1/tickets?status=closed&per_page=100&order=newest").get_json()["items"]
    row = next(t for t in items if t["id"] == closed.id)
    assert row["satisfaction"] == "basic" and row["solved"] is False and row["master_id"] is None
    # The lookup box, then the reopen with its reason.
    t = client.get(f"/api/v1/tickets/by-number/{closed.number}").get_json()
    assert t["status"] == "closed"
    r = client.post(f"/api/v1/tickets/{t['id']}/reopen", json={"reason": "回访未解决", "version": t["version"]}, headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "dispatched"
    # A merged child: its master lists it, and it splits back out to the call hall.
    assert [c["id"] for c in client.get(f"/api/v1/tickets?master_id={master.id}").get_json()["items"]] == [child.id]
    c = client.get(f"/api/v1/tickets/by-number/{child.number}").get_json()
    assert c["status"] == "merged" and c["master_id"] == master.id
    r = client.post(f"/api/v1/tickets/{c['id']}/split", json={"note": "", "version": c["version"]}, headers=h)
    assert r.status_code == 400  # the form's reason is required
    r = client.post(f"/api/v1/tickets/{c['id']}/split", json={"note": "与主案无关", "version": c["version"]}, headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "accepted" and r.get_json()["master_id"] is None


def test_expert_seat_has_the_state_switcher(app, city):
    client = app.test_client()
    login(client, "lawyer")
    html = client.get("/expert").get_data(as_text=True)
    assert 'id="state-switch"' in html
    for st in ("available", "on_call", "wrap_up", "away"):
        assert f'data-state="{st}"' in html
    js = client.get("/static/js/expert.js").get_data(as_text=True)
    assert "HL.seatState()" in js and "operator_state" in js  # the switcher shared with the console
    assert "/api/v1/operators/me/state" in client.get("/static/js/common.js").get_data(as_text=True)
    client, h = api_client(app, "lawyer")
    r = client.post("/api/v1/operators/me/state", json={"status": "available"}, headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "available"
    me = next(o for o in client.get("/api/v1/operators").get_json()["items"] if o["user_id"] == city.expert.user_id)
    assert me["status"] == "available" and me["role"] == "expert"
