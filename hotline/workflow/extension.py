"""Time at the unit: extension requests and decisions (延期), presses and escalation (督办/催办)."""
from __future__ import annotations

from hotline.errors import IllegalStep, InvalidInput
from hotline.tickets import AT_UNIT, Status, Ticket
from hotline.users import Actor
from hotline.workflow.base import (
    SUPERVISORS,
    StepsBase,
    _require_role,
    _require_status,
    _text,
)


class ExtensionSteps(StepsBase):
    def request_extension(
        self, actor: Actor, ticket_id: int, days: int, reason: str, expected_version: int | None = None
    ) -> Ticket:
        """申请延期: only before the deadline, at most the configured working days in all."""
        reason = _text(reason, "reason", "延期理由")
        try:
            days = int(days)
        except (TypeError, ValueError):
            raise InvalidInput("延期天数必须是整数", field="days") from None
        with self._change(actor, ticket_id, "request_extension", expected_version) as c:
            t = c.ticket
            self._require_lead(actor, t, "申请延期")
            _require_status(t, (Status.SIGNED,), "申请延期（请先签收）")
            if t.due_at is not None and self.hl.now() >= t.due_at:
                raise IllegalStep("已超过办理时限，不能再申请延期")
            if t.pending_extension_days:
                raise IllegalStep("已有待审批的延期申请")
            room = self.hl.time_limits.max_extension_workdays - t.extension_days
            if not 1 <= days <= room:
                raise InvalidInput(f"延期天数须在1至{max(room, 0)}个工作日之间", field="days")
            t.pending_extension_days, t.pending_extension_reason = days, reason
            c.note = reason
        return t

    def approve_extension(
        self, actor: Actor, ticket_id: int, note: str | None = None, expected_version: int | None = None
    ) -> Ticket:
        _require_role(actor, SUPERVISORS, "审批延期")
        with self._change(actor, ticket_id, "approve_extension", expected_version) as c:
            t = c.ticket
            if not t.pending_extension_days:
                raise IllegalStep("没有待审批的延期申请")
            _require_status(t, AT_UNIT, "审批延期")
            t.due_at = self.hl.calendar.add_working_days(t.due_at or self.hl.now(), t.pending_extension_days)
            t.extension_days += t.pending_extension_days
            t.pending_extension_days = t.pending_extension_reason = None
            c.note = _text(note, "note", "审批意见", required=False)
        return t

    def refuse_extension(
        self, actor: Actor, ticket_id: int, reason: str, expected_version: int | None = None
    ) -> Ticket:
        _require_role(actor, SUPERVISORS, "审批延期")
        reason = _text(reason, "reason", "不同意理由")
        with self._change(actor, ticket_id, "refuse_extension", expected_version) as c:
            if not c.ticket.pending_extension_days:
                raise IllegalStep("没有待审批的延期申请")
            c.ticket.pending_extension_days = c.ticket.pending_extension_reason = None
            c.note = reason
        return c.ticket

    def press(
        self, actor: Actor, ticket_id: int, note: str | None = None, escalate: bool = False,
        expected_version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """督办/催办 a ticket at a unit; ``escalate`` raises it to the supervisors' attention."""
        _require_role(actor, SUPERVISORS, "督办")
        with self._change(actor, ticket_id, "escalate" if escalate else "press", expected_version) as c:
            t = c.ticket
            _require_status(t, AT_UNIT, "督办")
            t.press_count += 1
            t.last_pressed_at = self.hl.now()
            if escalate:
                t.escalated = True
            c.note = _text(note, "note", "督办意见", required=False) or "请抓紧办理并按时回复"
        return t

