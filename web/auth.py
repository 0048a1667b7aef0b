"""Who is asking: a bearer token (integrations) or the login session (the workbenches)."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import current_app, g, request, session

from hotline.accounts import AccountService
from hotline.app import Hotline
from hotline.errors import AuthError, Forbidden
from hotline.users import Actor, User


def hotline() -> Hotline:
    return current_app.extensions["hotline"]


def load_user() -> User | None:
    """Resolve the request's user once per request (stored on ``g``)."""
    if "hl_user" in g:
        return g.hl_user
    user, via = None, None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        user, via = hotline().directory.user_for_token(header[7:].strip()), "token"
    elif request.args.get("api_key") or (request.form.get("api_key") if request.form else None):
        user, via = hotline().directory.user_for_token(request.args.get("api_key") or request.form["api_key"]), "token"
    elif session.get("sid"):
        # The session lives on the server: a logged-out, expired or deactivated one finds no row.
        user = AccountService(hotline()).user_for_session(session["sid"])
        if user is None:
            session.clear()
        else:
            via = "session"
    elif session:
        session.clear()  # a cookie from before server-side sessions, or somebody else's invention
    g.hl_user, g.hl_auth_via = user, via
    return user


def current_actor() -> Actor:
    user = load_user()
    if user is None:
        raise AuthError("请先登录（会话）或提供 API 令牌（Authorization: Bearer …）")
    return Actor.of(user)


def auth_via() -> str | None:
    load_user()
    return g.get("hl_auth_via")


def login_session(user: User) -> None:
    end_login_session()  # a new login never reuses the session it arrived with
    session["sid"] = AccountService(hotline()).start_session(user.id)
    session["user_id"] = user.id
    session["role"] = user.role
    session.permanent = True
    g.pop("hl_user", None)


def end_login_session() -> None:
    """退出登录: the session ends on the server, then the cookie is emptied."""
    sid = session.get("sid")
    if sid:
        AccountService(hotline()).end_session(sid)
    session.clear()
    g.pop("hl_user", None)


def current_session_id() -> str | None:
    return session.get("sid") if auth_via() == "session" else None


def roles_required(*roles: str) -> Callable:
    def deco(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            actor = current_actor()
            if actor.role not in roles:
                raise Forbidden("当前角色无权访问")
            return fn(*a, **kw)

        return wrapper

    return deco
