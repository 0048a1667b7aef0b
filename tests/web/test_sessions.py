"""Sessions end on the server (logout, deactivation, password change) and logins are throttled."""
from __future__ import annotations

import logging
import time
import uuid

import pytest

from tests.core.conftest import PASSWORD

WRONG = "wrong-password-123"


def _login(app, username, password=PASSWORD):
    c = app.test_client()
    r = c.post("/api/v1/auth/login", json={"username": username, "password": password})
    return c, r


def _replay(app, cookie):
    c = app.test_client()
    c.set_cookie("session", cookie)
    return c


def test_a_cookie_saved_before_logout_is_refused_after_it(app):
    c, r = _login(app, "op1")
    assert r.status_code == 200
    saved = c.get_cookie("session").value
    assert _replay(app, saved).get("/api/v1/auth/me").status_code == 200
    assert c.post("/api/v1/auth/logout", headers={"X-CSRFToken": r.json["csrf_token"]}).json == {"ok": True}
    assert _replay(app, saved).get("/api/v1/auth/me").status_code == 401
    assert _replay(app, saved).get("/api/v1/tickets").status_code == 401


def test_form_logout_ends_the_session_on_the_server_too(app):
    c = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False  # the form's CSRF token is tested in test_pages
    assert c.post("/login", data={"username": "t01", "password": PASSWORD}).status_code == 302
    saved = c.get_cookie("session").value
    assert _replay(app, saved).get("/unit").status_code == 200
    assert c.post("/logout").status_code == 302
    assert _replay(app, saved).get("/unit").status_code == 302  # back to the login page
    assert _replay(app, saved).get("/api/v1/inbox").status_code == 401


def test_deactivating_a_user_ends_their_sessions_and_tokens_at_once(app, city):
    user, r = _login(app, "op2")
    h = {"X-CSRFToken": r.json["csrf_token"]}
    token = user.post("/api/v1/auth/tokens", json={"name": "x"}, headers=h).json["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/tickets", headers=bearer).status_code == 200
    admin, ra = _login(app, "admin")
    r = admin.patch(f"/api/v1/users/{city.operator2.user_id}", json={"active": False},
                    headers={"X-CSRFToken": ra.json["csrf_token"]})
    assert r.status_code == 200 and r.json["active"] is False
    assert user.get("/api/v1/auth/me").status_code == 401
    assert app.test_client().get("/api/v1/tickets", headers=bearer).status_code == 401
    assert _login(app, "op2")[1].status_code == 401
    # Only an admin may, and not on themselves.
    op, ro = _login(app, "op1")
    assert op.patch(f"/api/v1/users/{city.supervisor.user_id}", json={"active": False},
                    headers={"X-CSRFToken": ro.json["csrf_token"]}).status_code == 403
    r = admin.patch(f"/api/v1/users/{city.admin.user_id}", json={"active": False}, headers={"X-CSRFToken": ra.json["csrf_token"]})
    assert r.status_code == 409 and r.json["error"] == "conflict"
    assert admin.patch("/api/v1/users/999999", json={"active": False}, headers={"X-CSRFToken": ra.json["csrf_token"]}).status_code == 404


def test_changing_a_password_ends_the_other_sessions_and_tokens(app, city):
    first, r1 = _login(app, "t01")
    second, r2 = _login(app, "t01")
    token = first.post("/api/v1/auth/tokens", json={}, headers={"X-CSRFToken": r1.json["csrf_token"]}).json["token"]
    uid = city.township_user.user_id
    h2 = {"X-CSRFToken": r2.json["csrf_token"]}
    r = second.post(f"/api/v1/users/{uid}/password", json={"password": "new-password-1", "current_password": "nope"}, headers=h2)
    assert r.status_code == 400 and r.json["field"] == "current_password"
    r = second.post(f"/api/v1/users/{uid}/password", json={"password": "new-password-1", "current_password": PASSWORD}, headers=h2)
    assert r.status_code == 200
    assert first.get("/api/v1/auth/me").status_code == 401  # the other session ended
    assert second.get("/api/v1/auth/me").status_code == 200  # the one it was changed in stays
    assert app.test_client().get("/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _login(app, "t01")[1].status_code == 401 and _login(app, "t01", "new-password-1")[1].status_code == 200
    # An admin sets anybody's password; the user's sessions all end.
    admin, ra = _login(app, "admin")
    r = admin.post(f"/api/v1/users/{uid}/password", json={"password": "admin-set-pass"}, headers={"X-CSRFToken": ra.json["csrf_token"]})
    assert r.status_code == 200 and second.get("/api/v1/auth/me").status_code == 401
    # Nobody else may.
    op, ro = _login(app, "op1")
    r = op.post(f"/api/v1/users/{uid}/password", json={"password": "x" * 10}, headers={"X-CSRFToken": ro.json["csrf_token"]})
    assert r.status_code == 403


def test_ten_failures_lock_a_username_even_for_the_right_password(app, city, caplog):
    caplog.set_level(logging.INFO)
    for _ in range(10):
        assert _login(app, "op1", WRONG)[1].status_code == 401
    c, r = _login(app, "op1")
    assert r.status_code == 429 and r.json["error"] == "too_many_attempts"
    assert 0 < int(r.headers["Retry-After"]) <= 900
    assert _login(app, "op1", WRONG)[1].status_code == 429
    assert _login(app, "op2")[1].status_code == 200  # another user is not locked
    # The form login shares the count.
    app.config["WTF_CSRF_ENABLED"] = False
    r = app.test_client().post("/login", data={"username": "op1", "password": PASSWORD})
    assert r.status_code == 429 and "登录失败次数过多" in r.get_data(as_text=True) and r.headers["Retry-After"]
    assert "login locked" in caplog.text and WRONG not in caplog.text and PASSWORD not in caplog.text
    # An admin lifts the lock.
    admin, ra = _login(app, "admin")
    r = admin.post(f"/api/v1/users/{city.operator.user_id}/unlock", json={}, headers={"X-CSRFToken": ra.json["csrf_token"]})
    assert r.status_code == 200 and _login(app, "op1")[1].status_code == 200
    op2, ro = _login(app, "op2")
    assert op2.post(f"/api/v1/users/{city.operator.user_id}/unlock", json={},
                    headers={"X-CSRFToken": ro.json["csrf_token"]}).status_code == 403


def test_successful_logins_never_lock(app):
    for _ in range(15):
        assert _login(app, "sup")[1].status_code == 200


@pytest.fixture
def short_window(web_hl):
    web_hl.settings.login_window_seconds = 2
    web_hl.settings.login_max_failures_user = 3
    web_hl.settings.login_max_failures_address = 5
    return web_hl.settings


def test_the_lock_ends_when_the_window_has_passed(short_window, web_hl, city):
    from web import create_app

    app = create_app(web_hl, testing=True, message_queue=None)
    for _ in range(3):
        _login(app, "op1", WRONG)
    assert _login(app, "op1")[1].status_code == 429
    time.sleep(2.2)
    assert _login(app, "op1")[1].status_code == 200


def test_fifty_failures_from_one_address_lock_it_for_every_username(short_window, web_hl, city):
    from web import create_app

    app = create_app(web_hl, testing=True, message_queue=None)
    for name in ("op1", "op2", "sup", "mgr", "t01"):  # 5 (the test's limit) on different usernames
        assert _login(app, name, WRONG)[1].status_code == 401
    assert _login(app, "admin")[1].status_code == 429
    other = app.test_client()
    r = other.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD},
                   environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 200  # another address is not locked


def test_several_web_processes_share_the_count_through_redis(web_hl, city):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except Exception:
        pytest.skip("Redis not reachable")
    from web import create_app

    web_hl.settings.ratelimit_storage = "redis://127.0.0.1:6379/0"
    web_hl.settings.socketio_channel = f"test-{uuid.uuid4().hex[:8]}"  # the counters' key prefix
    a = create_app(web_hl, testing=True, message_queue=None)
    b = create_app(web_hl, testing=True, message_queue=None)
    for _ in range(5):
        assert _login(a, "op1", WRONG)[1].status_code == 401
        assert _login(b, "op1", WRONG)[1].status_code == 401
    assert _login(a, "op1")[1].status_code == 429 and _login(b, "op1")[1].status_code == 429
    a.extensions["hotline_login_limits"].unlock_user("op1")
    assert _login(b, "op1")[1].status_code == 200
