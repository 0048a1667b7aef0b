"""The center closes the loop: review (审核), close (办结), callbacks (回访) and reopening (重办)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from hotline.callbacks import Callback, CallbackStatus
from hotline.errors import IllegalStep, InvalidInput, NotFound
from hotline.events import CallbackRecorded
from hotline.tickets import Satisfaction, Status, Ticket
from hotline.users import Actor
from hotline.workflow.base import (
    CENTER_ROLES,
    SUPERVISORS,
    Change,
    StepsBase,
    _enum,
    _require_role,
    _require_status,
    _text,
    snapshot,
)

if TYPE_CHECKING:
    from hotline.app import UnitOfWork


class ClosingSteps(StepsBase):
    def review(
        self, actor: Actor, ticket_id: int, approve: bool, note: str | None = None,
        expected_version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """审核 the unit's reply: approve it, or send it back to the unit with a reason."""
        _require_role(actor, SUPERVISORS, "审核")
        with self._change(actor, ticket_id, "review" if approve else "review_reject", expected_version) as c:
            t = c.ticket
            _require_status(t, (Status.REPLIED,), "审核")
            if approve:
                t.status, t.reviewed_at = Status.REVIEWED.value, self.hl.now()
                c.note = _text(note, "note", "审核意见", required=False)
            else:
                c.note = _text(note, "note", "退回理由")
                t.status, t.replied_at = Status.SIGNED.value, None
        return t

    def close(self, actor: Actor, ticket_id: int, note: str | None = None, expected_version: int | None = None) -> Ticket:
        """办结 a reviewed ticket; its merged children close with it and every caller is due a callback."""
        _require_role(actor, SUPERVISORS, "办结")
        with self._change(actor, ticket_id, "close", expected_version) as c:
            t, now = c.ticket, self.hl.now()
            _require_status(t, (Status.REVIEWED,), "办结")
            t.status, t.close_kind, t.closed_at = Status.CLOSED.value, "handled", now
            # On time means the unit replied by its (possibly extended) deadline: review and closing
            # are the center's steps and do not count against the unit.
            t.closed_on_time = t.due_at is None or (t.replied_at or now) <= t.due_at
            c.note = _text(note, "note", "办结意见", required=False)
            self._close_children(c, t, now)
            self._schedule_callbacks(c.session, t)
        return t

    def record_callback(
        self, actor: Actor, callback_id: int, satisfaction: str, solved: bool | None = None,
        note: str | None = None, method: str = "manual",
    ) -> Callback:  # fmt: skip
        """回访 result: satisfied / basically satisfied / unsatisfied (which reopens the ticket)."""
        _require_role(actor, CENTER_ROLES, "登记回访结果")
        satisfaction = _enum(Satisfaction, satisfaction, "satisfaction", "满意度")
        if method not in ("manual", "auto"):
            raise InvalidInput("回访方式无效", field="method")
        note = _text(note, "note", "回访备注", required=False)
        with self.hl.uow() as uow:
            s = uow.session
            cb = s.get(Callback, callback_id)
            if cb is None:
                raise NotFound("回访记录不存在")
            if cb.status in (CallbackStatus.DONE, CallbackStatus.CANCELLED):
                raise IllegalStep("该回访已完成或已取消")
            t = s.get(Ticket, cb.ticket_id)
            before, before_units, from_status = snapshot(t), t.unit_ids(), t.status
            now = self.hl.now()
            cb.status, cb.satisfaction, cb.solved = CallbackStatus.DONE.value, satisfaction, solved
            cb.method, cb.note, cb.recorded_by_id, cb.completed_at = method, note, actor.user_id, now
            t.satisfaction, t.solved = satisfaction, solved
            action = "callback"
            if satisfaction == Satisfaction.UNSATISFIED and t.status == Status.CLOSED:
                self._reopen(uow, t, actor)
                action = "callback_reopen"
            self._log(uow, t, actor, action, before, before_units, from_status, note,
                      {"callback_id": cb.id, "source_ticket_id": cb.source_ticket_id})  # fmt: skip
            uow.add_event(CallbackRecorded(cb.id, t.id, satisfaction, now))
            uow.commit()
            return cb

    def reopen(self, actor: Actor, ticket_id: int, reason: str, expected_version: int | None = None) -> Ticket:
        """重办: send a closed ticket back to its unit (or to the call hall if it had none)."""
        _require_role(actor, SUPERVISORS, "重办")
        reason = _text(reason, "reason", "重办理由")
        with self._change(actor, ticket_id, "reopen", expected_version) as c:
            _require_status(c.ticket, (Status.CLOSED,), "重办")
            if c.ticket.master_id is not None:
                raise IllegalStep("并单子工单随主案办理，请重办主案")
            self._reopen(c.uow, c.ticket, actor)
            c.note = reason
        return c.ticket

    def _reopen(self, uow: "UnitOfWork", t: Ticket, actor: Actor) -> None:
        s = uow.session
        t.reopen_count += 1
        t.closed_at = t.closed_on_time = t.close_kind = None
        for cb in s.scalars(select(Callback).where(Callback.ticket_id == t.id, Callback.status.in_(
                (CallbackStatus.PENDING, CallbackStatus.MANUAL, CallbackStatus.CALLING)))):  # fmt: skip
            cb.status = CallbackStatus.CANCELLED.value
        if t.unit_id is not None:
            c = Change(uow, t, actor)
            self._assign(c, t.unit_id, [co.unit_id for co in t.co_units])
        else:
            t.status = Status.ACCEPTED.value
        for child in self._children(s, t):
            before, before_units = snapshot(child), child.unit_ids()
            child.status, child.closed_at, child.close_kind = Status.MERGED.value, None, None
            self._log(uow, child, actor, "reopen_with_master", before, before_units, Status.CLOSED.value,
                      f"随主案 {t.number} 重办")  # fmt: skip

