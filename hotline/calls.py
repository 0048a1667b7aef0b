"""Call detail records (话单), operators' states and the outbound job queue.

The SIP bridge writes a call record from the INVITE on and updates it as the call moves, so a bridge
killed mid-call leaves a record that the next start closes as interrupted. The connection rate
(接通率) and the 15-second answer rate are computed from these rows.
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, BigId


class CallOutcome(enum.StrEnum):
    ANSWERED = "answered"  # answered by a person (operator or expert)
    ABANDONED = "abandoned"  # caller hung up while waiting
    VOICEMAIL = "voicemail"  # left a message
    SELF_SERVICE = "self_service"  # IVR only (ticket status read back)
    REFUSED = "refused"  # the bridge refused it (no codec, overload)
    INTERRUPTED = "interrupted"  # the bridge died while the call was open
    FAILED = "failed"  # outbound: could not be placed
    BUSY = "busy"  # outbound
    NO_ANSWER = "no_answer"  # outbound


class OperatorStatus(enum.StrEnum):
    AVAILABLE = "available"  # 空闲
    ON_CALL = "on_call"  # 通话中
    WRAP_UP = "wrap_up"  # 话后整理
    AWAY = "away"  # 小休
    OFFLINE = "offline"  # 离线


OPERATOR_STATUS_LABELS = {
    OperatorStatus.AVAILABLE: "空闲",
    OperatorStatus.ON_CALL: "通话中",
    OperatorStatus.WRAP_UP: "话后整理",
    OperatorStatus.AWAY: "小休",
    OperatorStatus.OFFLINE: "离线",
}


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_offered_at", "offered_at"),
        Index("ix_calls_bridge_open", "bridge_id", "ended_at"),
        Index("ix_calls_caller", "caller_id", "offered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), default="in")  # in | out
    sip_call_id: Mapped[str | None] = mapped_column(String(200))
    bridge_id: Mapped[str | None] = mapped_column(String(64))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"))
    number: Mapped[str | None] = mapped_column(String(32))  # the citizen's number, for call-back
    line: Mapped[str] = mapped_column(String(16), default="12345")
    # Why an outbound call was placed (satisfaction, missed_call, expert_join, ...).
    purpose: Mapped[str | None] = mapped_column(String(20))
    offered_at: Mapped[dt.datetime]
    queued_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]  # by a person
    ended_at: Mapped[dt.datetime | None]
    wait_seconds: Mapped[float | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", use_alter=True))
    recording_path: Mapped[str | None] = mapped_column(String(255))
    callback_done_at: Mapped[dt.datetime | None]  # 漏接回拨 done for an abandoned call


class OperatorState(Base):
    __tablename__ = "operator_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=OperatorStatus.OFFLINE.value)
    since: Mapped[dt.datetime]
    # Longest-idle first: the operator whose last call ended longest ago gets the next one.
    idle_since: Mapped[dt.datetime | None]
    current_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))


class OutboundJob(Base):
    """Work for a SIP bridge (a satisfaction callback, a missed-call call-back), claimed safely by
    one bridge process (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL)."""

    __tablename__ = "outbound_jobs"
    __table_args__ = (
        Index("ix_outbound_jobs_pending", "status", "not_before"),
        # At most one live (pending or claimed) job per callback: the database itself refuses a
        # second, whatever a scheduler restart or takeover does.
        Index("uq_outbound_jobs_live_callback", "callback_id", unique=True,
              postgresql_where=text("status IN ('pending', 'claimed') AND callback_id IS NOT NULL"),
              sqlite_where=text("status IN ('pending', 'claimed') AND callback_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # satisfaction | missed_call
    number: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # expert_join: the desk
    # Only this bridge may claim the job (an expert joins the call where the call is); None = any.
    bridge_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|claimed|done|failed
    not_before: Mapped[dt.datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime]
