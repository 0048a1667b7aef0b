"""Dispatch and the unit's part: 派单, 改派, 签收, 退单, 回复 (and co-units' opinions)."""
from __future__ import annotations

from typing import Iterable

from hotline.errors import Forbidden, IllegalStep
from hotline.tickets import AT_UNIT, Status, Ticket
from hotline.users import Actor, Role
from hotline.workflow.base import (
    CENTER_ROLES,
    SUPERVISORS,
    StepsBase,
    _require_role,
    _require_status,
    _text,
)


class DispatchSteps(StepsBase):
    def dispatch(
        self, actor: Actor, ticket_id: int, unit_id: int, co_unit_ids: Iterable[int] | None = None,
        note: str | None = None, expected_version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """派单 to a lead unit, optionally with co-handling units (协办)."""
        _require_role(actor, CENTER_ROLES, "派单")
        with self._change(actor, ticket_id, "dispatch", expected_version) as c:
            _require_status(c.ticket, (Status.ACCEPTED,), "派单")
            self._assign(c, unit_id, co_unit_ids)
            c.note = _text(note, "note", "派单意见", required=False)
        return c.ticket

    def redispatch(
        self, actor: Actor, ticket_id: int, unit_id: int, co_unit_ids: Iterable[int] | None = None,
        note: str | None = None, expected_version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """改派: a supervisor gives a returned (or wrongly dispatched) ticket to another unit."""
        _require_role(actor, SUPERVISORS, "改派")
        with self._change(actor, ticket_id, "redispatch", expected_version) as c:
            _require_status(c.ticket, (Status.RETURNED, Status.DISPATCHED, Status.SIGNED), "改派")
            self._assign(c, unit_id, co_unit_ids)
            c.note = _text(note, "note", "改派意见", required=False)
        return c.ticket

    def sign(self, actor: Actor, ticket_id: int, expected_version: int | None = None) -> Ticket:
        """签收: the lead unit takes the ticket on; a co-handling unit acknowledges its part."""
        _require_role(actor, (Role.UNIT,), "签收")
        with self._change(actor, ticket_id, "sign", expected_version) as c:
            t, now = c.ticket, self.hl.now()
            co = self._co(actor, t)
            if self._is_lead(actor, t):
                _require_status(t, (Status.DISPATCHED,), "签收")
                t.status, t.signed_at = Status.SIGNED.value, now
                t.signed_on_time = t.sign_due_at is None or now <= t.sign_due_at
            elif co is not None:
                _require_status(t, AT_UNIT, "签收")
                if co.signed_at is not None:
                    raise IllegalStep("本单位已签收该协办工单")
                co.signed_at = now
                c.data = {"co_unit_id": co.unit_id}
            else:
                raise Forbidden("该工单未派给本单位")
        return t

    def return_ticket(
        self, actor: Actor, ticket_id: int, reason: str, expected_version: int | None = None
    ) -> Ticket:
        """退单: the lead unit says the ticket is not theirs, within the return window, with a reason."""
        reason = _text(reason, "reason", "退单理由")
        with self._change(actor, ticket_id, "return", expected_version) as c:
            t = c.ticket
            self._require_lead(actor, t, "退单")
            _require_status(t, AT_UNIT, "退单")
            if t.return_due_at is not None and self.hl.now() > t.return_due_at:
                raise IllegalStep("已超过退单时限，不能退单，请办理或申请延期")
            t.status = Status.RETURNED.value
            t.return_count += 1
            t.pending_extension_days = t.pending_extension_reason = None
            c.note = reason
        return t

    def reply(self, actor: Actor, ticket_id: int, outcome: str, expected_version: int | None = None) -> Ticket:
        """回复: the lead unit reports the outcome; a co-handling unit adds its opinion (协办意见)."""
        outcome = _text(outcome, "outcome", "办理结果")
        _require_role(actor, (Role.UNIT,), "回复")
        with self._change(actor, ticket_id, "reply", expected_version) as c:
            t, now = c.ticket, self.hl.now()
            co = self._co(actor, t)
            if self._is_lead(actor, t):
                _require_status(t, (Status.SIGNED,), "回复（请先签收）")
                t.status, t.outcome, t.replied_at = Status.REPLIED.value, outcome, now
                t.pending_extension_days = t.pending_extension_reason = None
            elif co is not None:
                _require_status(t, AT_UNIT, "提交协办意见")
                co.opinion, co.opinion_at = outcome, now
                co.signed_at = co.signed_at or now
                c.data = {"co_unit_id": co.unit_id}
                c.note = outcome
            else:
                raise Forbidden("该工单未派给本单位")
        return t

