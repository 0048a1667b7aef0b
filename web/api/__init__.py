"""The JSON API under /api/v1. Views are thin: parse, call a service, return its result.

Every route is declared with ``route()``, which also records it for the OpenAPI document at
``/api/v1/openapi.json``.
"""
from __future__ import annotations

import dataclasses
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, jsonify, request
from flask_wtf.csrf import generate_csrf, validate_csrf
from pydantic import BaseModel, ValidationError
from wtforms.validators import ValidationError as CSRFValidationError

from hotline.errors import InvalidInput
from web import error_response
from web.auth import auth_via, current_actor

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclasses.dataclass
class RouteDoc:
    path: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    auth: bool
    status: int


ROUTES: list[RouteDoc] = []


def route(
    path: str, method: str = "GET", *, summary: str, tag: str, body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None, auth: bool = True, status: int = 200,
) -> Callable:  # fmt: skip
    """Register a view; it receives the validated body as ``data=`` and query as ``params=``."""

    def deco(fn: Callable) -> Callable:
        ROUTES.append(RouteDoc(path, method, summary, tag, body, query, auth, status))

        @wraps(fn)
        def view(**kw: Any) -> Any:
            if auth:
                current_actor()  # 401 before anything else
                if method != "GET" and auth_via() == "session":
                    _check_csrf()
            if body is not None:
                kw["data"] = parse_body(body)
            if query is not None:
                kw["params"] = parse_query(query)
            result = fn(**kw)
            if isinstance(result, tuple):
                return result
            return jsonify(result), status

        flask_path = path.replace("{", "<").replace("}", ">")
        # Ids are 64-bit in the database: a larger one is no record (404), never an overflow (500).
        for name in ("ticket_id", "unit_id", "callback_id", "user_id", "call_id"):
            flask_path = flask_path.replace(f"<{name}>", f"<int(max={2**63 - 1}):{name}>")
        bp.add_url_rule(flask_path, endpoint=fn.__name__, view_func=view, methods=[method])
        return view

    return deco


def _check_csrf() -> None:
    token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
    try:
        validate_csrf(token)
    except CSRFValidationError:
        raise InvalidInput("CSRF 校验失败：会话登录时写操作须带 X-CSRFToken 请求头（登录响应中的 csrf_token）") from None


def _errors(e: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in e.errors()]


def parse_body(model: type[BaseModel]) -> BaseModel:
    if request.content_length and not request.is_json:
        raise InvalidInput("请求体须为 JSON（Content-Type: application/json）")
    data = request.get_json(silent=True)
    if data is None:
        data = {} if not request.get_data() else None
    if not isinstance(data, dict):
        raise InvalidInput("请求体须为 JSON 对象")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InvalidInput("请求参数校验失败", fields=_errors(e)) from None


def parse_query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate({k: v for k, v in request.args.items() if k != "api_key"})
    except ValidationError as e:
        raise InvalidInput("查询参数校验失败", fields=_errors(e)) from None


def version_of(data: Any) -> int | None:
    """The expected version: the body's ``version`` or an ``If-Match`` header."""
    v = getattr(data, "version", None)
    if v is None and request.headers.get("If-Match"):
        raw = request.headers["If-Match"].strip('W/"')
        if not raw.isdigit():
            raise InvalidInput("If-Match 须为工单版本号")
        v = int(raw)
    return v


@bp.errorhandler(404)
def _not_found(e: Exception):  # noqa: ANN202
    return error_response(404, "not_found", "接口不存在")


from web.api import admin, auth_routes, openapi, records, tickets, users  # noqa: E402,F401

__all__ = ["bp", "route", "generate_csrf"]
