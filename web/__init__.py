"""The web layer: Flask app factory, JSON API, Open311 and (in ``web.pages``/``web.live``) the
workbenches with their live updates over Socket.IO."""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, jsonify, request
from flask_limiter.errors import RateLimitExceeded
from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from hotline.app import Hotline
from hotline.files import private_dir
from hotline.errors import HotlineError

log = logging.getLogger(__name__)

socketio = SocketIO()
csrf = CSRFProtect()


def _secret_key(hl: Hotline) -> str:
    """From HOTLINE_SECRET_KEY, else a key kept in the data folder so that sessions survive a restart
    and every process of the embedded default signs cookies alike."""
    if hl.settings.secret_key:
        return hl.settings.secret_key
    path = Path(hl.settings.data_dir) / "secret_key"
    private_dir(path.parent)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(hotline: Hotline | None = None, *, testing: bool = False, message_queue: str | None = None) -> Flask:
    hl = hotline or Hotline.from_env()
    app = Flask(__name__)
    from hotline.accounts import SESSION_LIFETIME
    from web import login_limits, security

    app.config.update(
        SECRET_KEY=_secret_key(hl),
        TESTING=testing,
        JSON_AS_ASCII=False,
        WTF_CSRF_TIME_LIMIT=None,  # a call-hall shift is longer than Flask-WTF's default hour
        # CSRF is checked below for cookie-authenticated writes only: a bearer token is no cookie a
        # browser would send by itself, so integrations never need a CSRF token.
        WTF_CSRF_CHECK_DEFAULT=False,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    security.init_app(app, hl.settings)
    app.json.ensure_ascii = False
    app.extensions["hotline"] = hl
    csrf.init_app(app)

    @app.before_request
    def _csrf_for_cookie_writes():  # noqa: ANN202
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE") or request.blueprint in ("api", "open311"):
            return  # reads; the API checks session writes itself; Open311 writes carry an api_key
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return
        if app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()

    from web.api import bp as api_bp
    from web.open311 import bp as open311_bp

    csrf.exempt(api_bp)  # the API checks CSRF itself, for session-authenticated writes only
    csrf.exempt(open311_bp)  # Open311 writes authenticate with an api_key, never a cookie
    app.register_blueprint(api_bp)
    app.register_blueprint(open311_bp)

    # The workbenches (pages + live push) and the manager's reports plug in here.
    for name in ("pages", "reports"):
        try:
            module = __import__(f"web.{name}", fromlist=["bp"])
        except ImportError as e:  # pragma: no cover - only while a part is not yet written
            log.debug("web.%s not available: %s", name, e)
        else:
            app.register_blueprint(module.bp)
    try:
        from web import live
    except ImportError as e:  # pragma: no cover
        log.debug("live push not available: %s", e)
    else:
        live.init_app(app, hl)

    socketio.init_app(
        app,
        message_queue=message_queue if message_queue is not None else hl.settings.message_queue,
        async_mode="threading",
        # Only the center's own pages may open a socket (HOTLINE_ALLOWED_ORIGINS, else same host).
        cors_allowed_origins=security.origin_checker(hl.settings),
        channel=hl.settings.socketio_channel,
    )
    security.wrap_proxy(app, hl.settings)
    login_limits.init_app(app, hl.settings)

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        from sqlalchemy import text

        try:
            with hl.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as e:  # noqa: BLE001
            return jsonify({"status": "error", "database": "unreachable", "detail": type(e).__name__}), 503
        return jsonify({"status": "ok", "database": hl.dialect})

    register_error_handlers(app)
    return app


def wants_json() -> bool:
    return (
        request.path.startswith(("/api/", "/open311/", "/healthz"))
        or request.accept_mimetypes.best == "application/json"
    )


def error_response(http_status: int, code: str, detail: str, **extra):  # noqa: ANN201
    body = {"error": code, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None and k not in body})
    return jsonify(body), http_status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HotlineError)
    def _domain(e: HotlineError):  # noqa: ANN202
        response = error_response(e.http_status, e.code, e.detail, **e.extra)
        if getattr(e, "retry_after", None):  # Busy: the client may simply try again shortly
            response[0].headers["Retry-After"] = str(e.retry_after)
        return response

    @app.errorhandler(CSRFError)
    def _csrf(e: CSRFError):  # noqa: ANN202
        if wants_json():
            return error_response(400, "csrf_failed", "CSRF 校验失败，请刷新页面后重试")
        return e

    @app.errorhandler(RateLimitExceeded)
    def _locked(e: RateLimitExceeded):  # noqa: ANN202
        detail = "登录失败次数过多，已暂时锁定，请稍后再试或联系系统管理员解锁"
        if wants_json():
            return error_response(429, "too_many_attempts", detail)
        from flask import flash, render_template

        from web.pages import LoginForm

        flash(detail, "error")
        return render_template("login.html", form=LoginForm()), 429

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):  # noqa: ANN202
        if not wants_json():
            return e
        names = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 400: "bad_request", 415: "unsupported",
                 429: "too_many_requests"}
        return error_response(e.code or 500, names.get(e.code, "http_error"), e.description or e.name)

    @app.errorhandler(IntegrityError)
    def _integrity(e: IntegrityError):  # noqa: ANN202
        # A reference to a row that is not there (or a duplicate) that no check caught before the
        # database did: a 409 in our words; the database's own text (tables, values) is only logged.
        log.warning("integrity error on %s %s: %s", request.method, request.path, str(e.orig)[:300])
        return error_response(409, "conflict", "数据冲突：引用的记录不存在或已存在")

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):  # noqa: ANN202
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "服务器内部错误，已记录，请稍后重试")
