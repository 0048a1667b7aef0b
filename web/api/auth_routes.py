"""Login, logout, who am I, API tokens."""
from __future__ import annotations

from flask_wtf.csrf import generate_csrf

from hotline.errors import AuthError
from web.api import route
from web.api.schemas import Login, TokenRequest
from web.login_limits import mark_failed_login
from web.auth import current_actor, end_login_session, hotline, load_user, login_session


@route("/auth/login", "POST", summary="登录（建立会话）", tag="auth", body=Login, auth=False)
def login(data: Login):  # noqa: ANN201
    try:
        user = hotline().directory.authenticate(data.username, data.password)
    except AuthError:
        mark_failed_login(data.username)  # counts towards the lock (web.login_limits)
        raise
    login_session(user)
    return {"user": user.as_dict(), "csrf_token": generate_csrf()}


@route("/auth/logout", "POST", summary="退出登录", tag="auth")
def logout():  # noqa: ANN201
    end_login_session()
    return {"ok": True}


@route("/auth/me", summary="当前用户", tag="auth")
def me():  # noqa: ANN201
    return {"user": load_user().as_dict(), "csrf_token": generate_csrf()}


@route("/auth/tokens", "POST", summary="签发 API 令牌（仅显示一次）", tag="auth", body=TokenRequest, status=201)
def issue_token(data: TokenRequest):  # noqa: ANN201
    token = hotline().directory.issue_token(current_actor(), data.name, data.user_id)
    return {"token": token, "name": data.name}
