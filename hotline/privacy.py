"""Callers' privacy in one place: phone numbers inside any text, what a viewer may see of them, and
what never reaches a log line.

- ``mask_phones_in(text)`` masks every phone-number-like sequence (mobile ``1[3-9]x`` with 11 digits,
  a landline with its area code; written with spaces, dashes, dots, brackets, ``+86``/``0086``, or
  percent-encoded as it appears in a URL) as ``138****5678``.
- ``sees_numbers(role)`` says whether a role is one of the center's (operator, supervisor, expert,
  admin) and so sees numbers in clear; ``mask_for(role, value)`` masks every string inside a view
  (dicts, lists) for everybody else — units, managers and the public.
- ``redact(text)`` is what a log line gets: phone numbers masked and secrets (API keys, bearer
  tokens, passwords, session cookies) replaced; ``install_log_masking()`` applies it to every log
  record of the process, whoever logs it (werkzeug's and gunicorn's access logs included).
"""
from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

# Roles that see a caller's number in clear: the center's own staff (and the system itself).
CENTER_ROLES = frozenset({"system", "operator", "supervisor", "expert", "admin"})

# One separator between digits: blanks (also the ideographic space), dashes (ASCII, en/em, full
# width), a dot, or their URL-encoded forms ("%20", "%2D", "+" for a space in a query string).
_SEP = r"(?:[\s\-\u2010-\u2015\uff0d.·]|%20|%2[dD]|\+(?=\d))?"
_D = r"\d"
# +86 / 0086 / 86 / %2B86 in front of a number, with an optional separator.
_CC = r"(?:(?:\+|%2[bB]|00)" + _SEP + r"86|86)" + _SEP
_MOBILE = r"1" + _SEP + r"[3-9](?:" + _SEP + _D + r"){9}"
# 0 + 2-3 digits of area code (010, 0571), optionally in brackets, then 7-8 digits.
_AREA = r"[(（]?0" + _SEP + r"[1-9](?:" + _SEP + _D + r"){1,2}[)）]?"
_LOCAL = _D + r"(?:" + _SEP + _D + r"){6,7}"
# After +86 the area code loses its 0 (+86 571 8888 6666, +86 (0)571 ...).
_AREA_INTL = r"(?:[(（]0[)）])?[1-9](?:" + _SEP + _D + r"){1,2}"
_PHONE = re.compile(
    r"(?<![\d%])(?:"
    r"(?P<mobile>(?:" + _CC + r")?" + _MOBILE + r")"
    r"|(?P<landline>" + _AREA + r"(?:" + _SEP + r"){0,2}" + _LOCAL + r")"
    r"|(?P<intl>(?:\+|%2[bB]|00)" + _SEP + r"86" + _SEP + _AREA_INTL + _SEP + _LOCAL + r")"
    r")(?!\d)"
)
_NOT_DIGIT = re.compile(r"%2[bBdD]|%20|\D")


def mask_phone(phone: str | None) -> str | None:
    """138****5678: keeps the first three and last four digits (fewer for short numbers)."""
    if not phone:
        return phone
    if len(phone) >= 11:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    if len(phone) >= 7:
        return phone[:2] + "*" * (len(phone) - 4) + phone[-2:]
    return "*" * len(phone)


def _masked(m: re.Match) -> str:
    digits = _NOT_DIGIT.sub("", m.group(0))
    if m.group("mobile") is not None:
        digits = digits[-11:]
    elif m.group("intl") is not None:
        digits = "0" + digits[digits.index("86") + 2:].lstrip("0")
    return mask_phone(digits) or ""


def mask_phones_in(text: str | None) -> str | None:
    """Every phone-number-like sequence in ``text`` masked; other digits (dates, ticket numbers,
    amounts, house numbers) left alone."""
    if not text or not any(c.isdigit() for c in text):
        return text
    return _PHONE.sub(_masked, text)


def has_phone(text: str | None) -> bool:
    return bool(text) and _PHONE.search(text) is not None


def sees_numbers(role: str) -> bool:
    return str(role) in CENTER_ROLES


def mask_deep(value: Any) -> Any:
    """Every string inside ``value`` (a view: dicts, lists) with its phone numbers masked."""
    if isinstance(value, str):
        return mask_phones_in(value)
    if isinstance(value, dict):
        return {k: mask_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_deep(v) for v in value]
    return value


def mask_for(role: str, value: Any) -> Any:
    """What a viewer of ``role`` may see of a view: untouched for the center, masked for the rest."""
    return value if sees_numbers(role) else mask_deep(value)


# ---------------------------------------------------------------------- logs
_HIDDEN = "***"
_SECRET_NAMES = r"api_key|apikey|access_token|token|password|passwd|new_password|old_password|secret|csrf_token"
_SECRETS = (
    # key=value in a query string, a form body or a config dump
    (re.compile(r"(?i)\b(" + _SECRET_NAMES + r")=([^&\s\"';,]+)"), r"\1=" + _HIDDEN),
    # "password": "…" in JSON or a Python repr
    (re.compile(r"(?i)([\"']?(?:" + _SECRET_NAMES + r")[\"']?\s*:\s*)([\"'])(?:\\.|(?!\2).)*\2"), r"\1\2" + _HIDDEN + r"\2"),
    # Authorization: Bearer …  /  Basic …
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), r"\1 " + _HIDDEN),
    # our API tokens wherever they appear
    (re.compile(r"\bhl_[A-Za-z0-9_\-]{8,}"), "hl_" + _HIDDEN),
    # the session cookie (and any cookie called like it)
    (re.compile(r"(?i)\b(session|remember_token)=([^;\s\"',]+)"), r"\1=" + _HIDDEN),
)


def redact(text: str) -> str:
    """A log line as it may be written: secrets replaced, phone numbers masked."""
    if not text:
        return text
    if "%" in text:  # a request line as sent: percent-escapes decoded, so no number hides in them
        text = unquote(text)
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return mask_phones_in(text) or text


_EXC_FORMATTER = logging.Formatter()


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place: its message, and its traceback (formatted now, so a handler's
    formatter uses the redacted text instead of formatting the exception itself)."""
    if getattr(record, "_hotline_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is not ours to fix here
        return record
    clean = redact(message)
    if clean != message or record.args:
        record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        record.exc_text = _EXC_FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._hotline_redacted = True
    return record


class LogRedactionFilter(logging.Filter):
    """Redacts every record that passes a handler (numbers masked, secrets hidden)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_installed = False


def install_log_masking() -> None:
    """Redact every log record this process makes, whichever logger or handler it goes to.

    Records are redacted where they are made (the log record factory), so handlers added later —
    werkzeug's own, gunicorn's error and access logs, a test's — see only redacted text; the root
    logger's handlers get the filter too, for records made before this was called.
    """
    global _installed
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if not any(isinstance(f, LogRedactionFilter) for f in handler.filters):
            handler.addFilter(LogRedactionFilter())
    if not _installed:
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
