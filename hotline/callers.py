"""Callers (来电人) and the handling of their phone numbers, which are personal data."""
from __future__ import annotations

import datetime as dt
import logging
import re

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, BigId
from hotline.errors import InvalidInput


class Caller(Base):
    __tablename__ = "callers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(64))
    # 特殊群体 (elderly, disabled, ...): their tickets go through the green channel.
    special_group: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]
    last_contact_at: Mapped[dt.datetime | None]


_NON_DIGITS = re.compile(r"[\s\-()（）]")


def normalize_phone(raw: str) -> str:
    """Digits only, without +86 / 0086; a landline keeps its area code. Refuses what is not a number."""
    s = _NON_DIGITS.sub("", raw or "")
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    if not s.isdigit() or not 3 <= len(s) <= 20:
        raise InvalidInput("电话号码格式不正确", field="phone")
    return s


def mask_phone(phone: str | None) -> str | None:
    """138****5678: keeps the first three and last four digits (fewer for short numbers)."""
    if not phone:
        return phone
    if len(phone) >= 11:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    if len(phone) >= 7:
        return phone[:2] + "*" * (len(phone) - 4) + phone[-2:]
    return "*" * len(phone)


# Mobile numbers (1[3-9]x, 11 digits) and landlines (0 + area code + 7-8 digits) inside any text.
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")


def mask_phones_in(text: str) -> str:
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(1).replace("-", "")) or "", text)


class PhoneMaskingFilter(logging.Filter):
    """Masks phone numbers in every log record, so none reaches a log file in clear."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        masked = mask_phones_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_masking() -> None:
    """Attach the filter to every handler of the root logger (handlers, not loggers, see all records)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if not any(isinstance(f, PhoneMaskingFilter) for f in handler.filters):
            handler.addFilter(PhoneMaskingFilter())
