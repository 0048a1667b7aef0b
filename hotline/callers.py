"""Callers (来电人) and the handling of their phone numbers, which are personal data."""
from __future__ import annotations

import datetime as dt
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


# The masking itself lives in hotline.privacy (one function for every text a viewer or a log sees);
# these names stay importable from here.
from hotline.privacy import (  # noqa: E402,F401
    LogRedactionFilter,
    install_log_masking,
    mask_phone,
    mask_phones_in,
)

PhoneMaskingFilter = LogRedactionFilter
