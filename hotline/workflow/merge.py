"""Merge (并单) and split (拆单)."""
from __future__ import annotations

from sqlalchemy import func, select

from hotline.errors import IllegalStep, InvalidInput, NotFound
from hotline.tickets import OPEN, Status, Ticket
from hotline.users import Actor
from hotline.workflow.base import (
    CENTER_ROLES,
    SUPERVISORS,
    StepsBase,
    _require_role,
    _require_status,
    _text,
    snapshot,
)


class MergeSteps(StepsBase):
    def merge(
        self, actor: Actor, ticket_id: int, master_id: int, note: str | None = None,
        expected_version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """并单: the ticket becomes a child of ``master_id``; it keeps its caller and follows the master."""
        _require_role(actor, CENTER_ROLES, "并单")
        if int(ticket_id) == int(master_id):
            raise InvalidInput("不能与自身并单", field="master_id")
        with self._change(actor, ticket_id, "merge", expected_version) as c:
            t, s = c.ticket, c.session
            _require_status(t, (Status.ACCEPTED, Status.RETURNED, Status.DISPATCHED, Status.SIGNED), "并单")
            master = s.get(Ticket, master_id)
            if master is None:
                raise NotFound("主案工单不存在", field="master_id")
            if master.master_id is not None or master.status not in OPEN:
                raise IllegalStep("主案必须是未办结、且本身不是子工单的工单")
            if s.scalar(select(func.count()).select_from(Ticket).where(Ticket.master_id == t.id)):
                raise IllegalStep("该工单已是其他工单的主案，不能再并入别的工单")
            c.data = {"previous_status": t.status}
            t.status, t.master_id = Status.MERGED.value, master.id
            t.co_units = []
            t.unit_id = master.unit_id
            c.note = _text(note, "note", "并单说明", required=False) or f"并入主案 {master.number}"
            m_before, m_units = snapshot(master), master.unit_ids()
            self._log(c.uow, master, actor, "merge_in", m_before, m_units, master.status, f"并入子工单 {t.number}",
                      {"child_id": t.id})  # fmt: skip
        return t

    def split(self, actor: Actor, ticket_id: int, note: str, expected_version: int | None = None) -> Ticket:
        """拆单: a wrongly merged child goes back to the call hall as a ticket of its own."""
        _require_role(actor, SUPERVISORS, "拆单")
        note = _text(note, "note", "拆单理由")
        with self._change(actor, ticket_id, "split", expected_version) as c:
            t, s = c.ticket, c.session
            if t.master_id is None:
                raise IllegalStep("该工单不是并单子工单")
            _require_status(t, (Status.MERGED,), "拆单（主案已办结时请重新受理）")
            master = s.get(Ticket, t.master_id)
            c.data = {"former_master_id": master.id}
            t.master_id, t.status, t.unit_id = None, Status.ACCEPTED.value, None
            t.sign_due_at = t.due_at = t.return_due_at = t.dispatched_at = None
            c.note = note
            self._log(c.uow, master, actor, "split_out", snapshot(master), master.unit_ids(), master.status,
                      f"拆出子工单 {t.number}", {"child_id": t.id})  # fmt: skip
        return t


