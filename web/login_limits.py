"""Login throttling (Flask-Limiter): after too many failed logins for one username, or from one
address, within the window, every login attempt for it gets 429 with ``Retry-After`` — the right
password too — until the window has passed or an admin unlocks the user.

Only failures count (``deduct_when``): a user who logs in correctly many times is never locked.
The counters live in Redis when the center has one (``HOTLINE_MESSAGE_QUEUE``), so every web
process sees the same count; otherwise in this process's memory. The JSON login
(``/api/v1/auth/login``) and the form login (``/login``) share them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import limits
from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

log = logging.getLogger(__name__)

USER_SCOPE = "login-user"
ADDRESS_SCOPE = "login-address"
LOGIN_ENDPOINTS = ("api.login", "pages.login")


def login_username() -> str:
    """The username a login request is for (JSON body or form), as the counter's key."""
    name: Any = None
    if request.is_json:
        data = request.get_json(silent=True)
        name = data.get("username") if isinstance(data, dict) else None
    if name is None and request.method == "POST":
        name = request.form.get("username")
    name = str(name or "").strip()[:64]
    return "user:" + name if name else "user:(none)"


def mark_failed_login(username: str | None) -> None:
    """Called by a login view when the credentials were wrong: this response counts."""
    g.hl_login_failed = True
    log.info("login failed for %r from %s", (username or "")[:64], request.remote_addr)


def _failed(_response: Any) -> bool:
    return bool(g.get("hl_login_failed"))


def _breach(limit: Any) -> None:
    log.warning("login locked (%s): %s from %s, further attempts get 429 until the window passes",
                limit.limit, login_username()[5:], request.remote_addr)  # fmt: skip


@dataclass
class LoginLimits:
    limiter: Limiter
    user_limit: limits.RateLimitItem
    address_limit: limits.RateLimitItem
    key_prefix: str
    window_seconds: int

    def _args(self, key: str, scope: str) -> list[str]:
        return [self.key_prefix, key, scope] if self.key_prefix else [key, scope]

    def unlock_user(self, username: str) -> None:
        """An admin lifts a user's lock: their failure count starts again from nothing."""
        self.limiter.limiter.clear(self.user_limit, *self._args("user:" + username, USER_SCOPE))
        log.warning("login lock lifted for %s", username)

    def unlock_address(self, address: str) -> None:
        self.limiter.limiter.clear(self.address_limit, *self._args(address, ADDRESS_SCOPE))
        log.warning("login lock lifted for address %s", address)


def init_app(app: Flask, settings: Any) -> LoginLimits:
    """A limiter of this app's own (tests build many apps in one process), wrapped around the
    login views that are registered."""
    window = int(settings.login_window_seconds)
    user_limit = f"{int(settings.login_max_failures_user)} per {window} seconds"
    address_limit = f"{int(settings.login_max_failures_address)} per {window} seconds"
    prefix = f"hotline-{settings.socketio_channel}"
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=settings.ratelimit_storage_uri(),
        strategy="moving-window",
        headers_enabled=True,
        key_prefix=prefix,
        default_limits=[],
        swallow_errors=False,
    )
    for endpoint in LOGIN_ENDPOINTS:
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        view = limiter.shared_limit(user_limit, scope=USER_SCOPE, key_func=login_username, deduct_when=_failed,
                                    on_breach=_breach, methods=["POST"])(view)  # fmt: skip
        view = limiter.shared_limit(address_limit, scope=ADDRESS_SCOPE, key_func=get_remote_address,
                                    deduct_when=_failed, on_breach=_breach, methods=["POST"])(view)  # fmt: skip
        app.view_functions[endpoint] = view
    state = LoginLimits(limiter, limits.parse(user_limit), limits.parse(address_limit), prefix, window)
    app.extensions["hotline_login_limits"] = state
    return state


def retry_after_minutes(seconds: int | str | None) -> int:
    try:
        return max(1, -(-int(seconds or 0) // 60))
    except (TypeError, ValueError):
        return 1
