"""Errors the service layer raises. Each carries a machine code and a human reason (Chinese)."""
from __future__ import annotations

from typing import Any


class HotlineError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(HotlineError):
    code = "invalid_input"
    http_status = 400


class NotFound(HotlineError):
    code = "not_found"
    http_status = 404


class Forbidden(HotlineError):
    code = "forbidden"
    http_status = 403


class IllegalStep(HotlineError):
    """The step is not allowed in the ticket's current state (the state machine refuses it)."""

    code = "illegal_step"
    http_status = 409


class Conflict(HotlineError):
    """Somebody else changed the record first (optimistic version check)."""

    code = "conflict"
    http_status = 409


class AuthError(HotlineError):
    code = "unauthorized"
    http_status = 401


class Busy(HotlineError):
    """The database could not take the write in time (load, or a lock held elsewhere): try again."""

    code = "busy"
    http_status = 503

    def __init__(self, detail: str = "系统繁忙，请稍后重试", retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after
