"""Tickets (工单), their co-handling units, the append-only event log and the number counter."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.callers import Caller
from hotline.db import Base, BigId
from hotline.units import Unit


class Status(enum.StrEnum):
    ACCEPTED = "accepted"  # 已受理（待派单）
    DISPATCHED = "dispatched"  # 已派单（待签收）
    RETURNED = "returned"  # 已退单（待改派）
    SIGNED = "signed"  # 已签收（办理中）
    REPLIED = "replied"  # 已回复（待审核）
    REVIEWED = "reviewed"  # 已审核（待办结）
    CLOSED = "closed"  # 已办结
    REJECTED = "rejected"  # 不予受理
    MERGED = "merged"  # 已并单（随主案）


STATUS_LABELS = {
    Status.ACCEPTED: "已受理",
    Status.DISPATCHED: "待签收",
    Status.RETURNED: "已退单",
    Status.SIGNED: "办理中",
    Status.REPLIED: "已回复",
    Status.REVIEWED: "已审核",
    Status.CLOSED: "已办结",
    Status.REJECTED: "不予受理",
    Status.MERGED: "已并单",
}

# A ticket in one of these is at a member unit: the unit's clock runs.
AT_UNIT = (Status.DISPATCHED, Status.SIGNED)
OPEN = (Status.ACCEPTED, Status.DISPATCHED, Status.RETURNED, Status.SIGNED, Status.REPLIED, Status.REVIEWED)
FINISHED = (Status.CLOSED, Status.REJECTED)


class TicketType(enum.StrEnum):
    INQUIRY = "inquiry"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    PRAISE = "praise"  # 表扬


TYPE_LABELS = {
    TicketType.INQUIRY: "咨询",
    TicketType.HELP: "求助",
    TicketType.COMPLAINT: "投诉",
    TicketType.REPORT: "举报",
    TicketType.SUGGESTION: "建议",
    TicketType.PRAISE: "表扬",
}


class Urgency(enum.StrEnum):
    NORMAL = "normal"  # 一般
    URGENT = "urgent"  # 紧急
    CRITICAL = "critical"  # 特急


URGENCY_LABELS = {Urgency.NORMAL: "一般", Urgency.URGENT: "紧急", Urgency.CRITICAL: "特急"}


class Channel(enum.StrEnum):
    PHONE = "phone"
    WEB = "web"
    APP = "app"
    MAIL = "mail"
    WECHAT = "wechat"
    OPEN311 = "open311"


CHANNEL_LABELS = {
    Channel.PHONE: "电话",
    Channel.WEB: "网站",
    Channel.APP: "App",
    Channel.MAIL: "信件",
    Channel.WECHAT: "微信",
    Channel.OPEN311: "开放接口",
}

# The hotlines folded into 12345 since 2021 arrive as lines of the phone channel.
LINES = {
    "12345": "12345政务服务便民热线",
    "12315": "12315市场监管",
    "12333": "12333人社",
    "12393": "12393医保",
    "12319": "12319城建",
    "12369": "12369环保",
    "12336": "12336自然资源",
    "12328": "12328交通运输",
    "12320": "12320卫生健康",
    "12358": "12358价格",
    "12366": "12366纳税服务",
    "96777": "96777供水",
    "95598": "95598供电",
}


class RejectReason(enum.StrEnum):
    """不予受理 reasons: the fixed list from DOMAIN.md."""

    OUTSIDE_JURISDICTION = "outside_jurisdiction"
    EMERGENCY_LINE = "emergency_line"
    LEGAL_PROCEDURE = "legal_procedure"
    SECRET_OR_PRIVACY = "secret_or_privacy"
    REPEATED_NO_NEW_FACTS = "repeated_no_new_facts"
    MALICIOUS_OR_EMPTY = "malicious_or_empty"


REJECT_REASON_LABELS = {
    RejectReason.OUTSIDE_JURISDICTION: "不属于本市管辖范围",
    RejectReason.EMERGENCY_LINE: "属于110/119/120/122紧急热线受理范围",
    RejectReason.LEGAL_PROCEDURE: "属于诉讼、仲裁、信访等法定途径",
    RejectReason.SECRET_OR_PRIVACY: "涉及国家秘密、商业秘密或个人隐私",
    RejectReason.REPEATED_NO_NEW_FACTS: "重复诉求且无新情况新理由",
    RejectReason.MALICIOUS_OR_EMPTY: "恶意骚扰或无实质内容",
}


class Satisfaction(enum.StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


SATISFACTION_LABELS = {Satisfaction.SATISFIED: "满意", Satisfaction.BASIC: "基本满意", Satisfaction.UNSATISFIED: "不满意"}


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_unit_status_due", "unit_id", "status", "due_at"),
        Index("ix_tickets_status_due", "status", "due_at"),
        Index("ix_tickets_accepted_at", "accepted_at"),
        Index("ix_tickets_caller_accepted", "caller_id", "accepted_at"),
        Index("ix_tickets_closed_at", "closed_at"),
        Index("ix_tickets_expert_status", "expert_unit_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # 工单编号 20261122-00017
    version: Mapped[int] = mapped_column(Integer, default=1)

    channel: Mapped[str] = mapped_column(String(16))
    line: Mapped[str] = mapped_column(String(16), default="12345")
    type: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16), default=Urgency.NORMAL.value)
    green_channel: Mapped[bool] = mapped_column(Boolean, default=False)  # 绿色通道
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)  # 保密

    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"))
    caller_name: Mapped[str | None] = mapped_column(String(64))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", use_alter=True))
    area: Mapped[str | None] = mapped_column(String(100))  # 区县/乡镇街道
    address: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)

    suggested_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    suggestion_confidence: Mapped[float | None] = mapped_column(Float)
    suggestion: Mapped[dict[str, Any] | None]  # the classifier's top choices and keywords

    status: Mapped[str] = mapped_column(String(16), default=Status.ACCEPTED.value)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # 主办单位
    expert_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # transferred to a desk
    master_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)  # 主案

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[dt.datetime]
    dispatched_at: Mapped[dt.datetime | None]
    signed_at: Mapped[dt.datetime | None]
    replied_at: Mapped[dt.datetime | None]
    reviewed_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime]

    sign_due_at: Mapped[dt.datetime | None]  # 签收时限
    due_at: Mapped[dt.datetime | None]  # 办理时限（回复）
    return_due_at: Mapped[dt.datetime | None]  # 退单时限
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    signed_on_time: Mapped[bool | None] = mapped_column(Boolean)

    extension_days: Mapped[int] = mapped_column(Integer, default=0)  # approved working days in all
    pending_extension_days: Mapped[int | None] = mapped_column(Integer)
    pending_extension_reason: Mapped[str | None] = mapped_column(Text)
    press_count: Mapped[int] = mapped_column(Integer, default=0)  # 督办次数
    last_pressed_at: Mapped[dt.datetime | None]
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)

    outcome: Mapped[str | None] = mapped_column(Text)  # 办理结果 / 答复内容
    close_kind: Mapped[str | None] = mapped_column(String(20))  # first_contact | handled | master
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    solved: Mapped[bool | None] = mapped_column(Boolean)

    caller: Mapped[Caller | None] = relationship()
    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])
    expert_unit: Mapped[Unit | None] = relationship(foreign_keys=[expert_unit_id])
    suggested_unit: Mapped[Unit | None] = relationship(foreign_keys=[suggested_unit_id])
    master: Mapped["Ticket | None"] = relationship(remote_side="Ticket.id", foreign_keys=[master_id])
    co_units: Mapped[list["TicketCoUnit"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketCoUnit.id"
    )

    # Concurrent edits: the loser's UPDATE matches no row and SQLAlchemy raises StaleDataError.
    __mapper_args__ = {"version_id_col": version}

    def unit_ids(self) -> tuple[int, ...]:
        ids = [self.unit_id] if self.unit_id else []
        ids += [c.unit_id for c in self.co_units]
        return tuple(ids)


class TicketCoUnit(Base):
    """A co-handling unit (协办单位) of a ticket; the lead (主办) is ``Ticket.unit_id``."""

    __tablename__ = "ticket_co_units"
    __table_args__ = (UniqueConstraint("ticket_id", "unit_id"), Index("ix_ticket_co_units_unit", "unit_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    signed_at: Mapped[dt.datetime | None]
    opinion: Mapped[str | None] = mapped_column(Text)  # 协办意见
    opinion_at: Mapped[dt.datetime | None]

    ticket: Mapped[Ticket] = relationship(back_populates="co_units")
    unit: Mapped[Unit] = relationship()


class TicketEvent(Base):
    """The append-only log of every ticket change (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[dt.datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "action": self.action,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "note": self.note,
            "before": self.before,
            "after": self.after,
        }


class TicketCounter(Base):
    """Per-day counter behind ticket numbers. Incremented inside the creating transaction, so a
    number is unique across processes and gapless within a day."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
