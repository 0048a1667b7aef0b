"""Satisfaction callbacks (回访): one per caller of a closed ticket and per round (重办 starts a new round)."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, BigId


class CallbackStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its time
    CALLING = "calling"  # an outbound call is under way
    DONE = "done"  # result recorded
    MANUAL = "manual"  # automatic tries exhausted: on the operators' list
    CANCELLED = "cancelled"  # ticket reopened before the call


class Callback(Base):
    __tablename__ = "callbacks"
    __table_args__ = (
        # The idempotency key: a restart can never create (and so never place) a second callback
        # for the same caller of the same ticket in the same round.
        UniqueConstraint("ticket_id", "caller_id", "round", name="uq_callbacks_ticket_caller_round"),
        Index("ix_callbacks_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    # The ticket whose caller this is (a merged child's caller is called about the master).
    source_ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"))
    round: Mapped[int] = mapped_column(Integer, default=0)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.PENDING.value)
    due_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    last_attempt_at: Mapped[dt.datetime | None]
    last_result: Mapped[str | None] = mapped_column(String(16))
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    method: Mapped[str | None] = mapped_column(String(16))  # auto | manual
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
