"""What every response carries and whom the web process trusts: security headers (a
Content-Security-Policy that runs only our own script files), the session cookie's flags, the one
reverse proxy in front (``HOTLINE_PROXY_FIX``) and the origins allowed to open a Socket.IO
connection (``HOTLINE_ALLOWED_ORIGINS``).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix


def content_security_policy() -> str:
    # Scripts: our own files only (no inline script, no eval); <script type="application/json">
    # data blocks are data, not scripts. Styles may be inline: ECharts positions its tooltips so.
    host = request.host
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        f"connect-src 'self' ws://{host} wss://{host}",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))  # fmt: skip


def _headers(response: Any) -> Any:
    h = response.headers
    h.setdefault("Content-Security-Policy", content_security_policy())
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith("/api/") and "Cache-Control" not in h:
        h["Cache-Control"] = "no-store"  # API answers carry personal data: no shared cache keeps them
    return response


def init_app(app: Flask, settings: Any) -> None:
    app.config.update(
        SESSION_COOKIE_SECURE=bool(settings.secure_cookies),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.after_request(_headers)


def wrap_proxy(app: Flask, settings: Any) -> None:
    """Behind one TLS-terminating reverse proxy: take the client's address, scheme and host from its
    X-Forwarded-* headers (only then, since any client can send them). Call after Socket.IO has
    wrapped the app, so the origin check sees the same scheme and host."""
    if settings.proxy_fix:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]


def origin_checker(settings: Any) -> Callable[[str, dict], bool]:
    """Socket.IO's Origin check: the configured origins, else the request's own scheme and host.
    (engine.io checks only requests that carry an Origin: browsers always send it.)"""
    allowed = {o.rstrip("/") for o in settings.allowed_origins}

    def check(origin: str | None, environ: dict | None = None) -> bool:
        if not origin:
            return False
        origin = origin.rstrip("/")
        if allowed:
            return origin in allowed
        if not environ or "HTTP_HOST" not in environ:
            return False
        return origin == f"{environ.get('wsgi.url_scheme', 'http')}://{environ['HTTP_HOST']}"

    return check
