"""Small facts about the installation itself, kept in the database so every process sees them: e.g.
whether the demo city was written completely (``demo``: loading | complete)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base

if TYPE_CHECKING:
    from hotline.app import Hotline


class SystemState(Base):
    __tablename__ = "system_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[dt.datetime]


def get_state(hl: "Hotline", key: str) -> dict[str, Any] | None:
    with hl.uow(readonly=True) as uow:
        row = uow.session.get(SystemState, key)
        return dict(row.value) if row is not None else None


def set_state(hl: "Hotline", key: str, value: dict[str, Any]) -> None:
    with hl.uow() as uow:
        row = uow.session.get(SystemState, key)
        if row is None:
            uow.session.add(SystemState(key=key, value=value, updated_at=hl.now()))
        else:
            row.value, row.updated_at = value, hl.now()
        uow.commit()
