"""Intake (受理): accept, amend, close at first contact, reject, the expert desk and back."""
from __future__ import annotations

import logging
from typing import Any

from hotline.callers import normalize_phone
from hotline.errors import Forbidden, IllegalStep, InvalidInput
from hotline.tickets import (
    Channel,
    RejectReason,
    Status,
    Ticket,
    TicketType,
    Urgency,
)
from hotline.units import UnitKind
from hotline.users import Actor, Role
from hotline.workflow.base import (
    CENTER_ROLES,
    MAX_CONTENT,
    SUPERVISORS,
    StepsBase,
    _enum,
    _require_role,
    _require_status,
    _statements,
    _text,
    _title_from,
    snapshot,
)

log = logging.getLogger(__name__)


class IntakeSteps(StepsBase):
    def accept(
        self,
        actor: Actor,
        *,
        content: str,
        type: str = TicketType.HELP.value,  # noqa: A002
        channel: str = Channel.PHONE.value,
        line: str = "12345",
        urgency: str = Urgency.NORMAL.value,
        green_channel: bool = False,
        confidential: bool = False,
        caller_phone: str | None = None,
        caller_name: str | None = None,
        area: str | None = None,
        address: str | None = None,
        title: str | None = None,
        call_id: int | None = None,
        chosen_unit_id: int | None = None,
    ) -> Ticket:
        """受理: write a new ticket (from a call, the web, an app, a letter, Open311).

        ``chosen_unit_id`` is a unit the citizen picked (an Open311 service); it is kept as the
        suggestion in place of the classifier's, and an operator still dispatches.
        """
        _require_role(actor, (*CENTER_ROLES, Role.EXPERT), "受理工单")
        content = _text(content, "content", "诉求内容", limit=MAX_CONTENT)
        type_ = _enum(TicketType, type, "type", "工单类型")
        channel = _enum(Channel, channel, "channel", "来源渠道")
        urgency = _enum(Urgency, urgency, "urgency", "紧急程度")
        line = _text(line, "line", "热线号码", required=False, limit=16) or "12345"
        caller_name = _text(caller_name, "caller_name", "来电人姓名", required=False, limit=64)
        area = _text(area, "area", "区域", required=False, limit=100)
        address = _text(address, "address", "地址", required=False, limit=255)
        title = _text(title, "title", "标题", required=False, limit=200) or _title_from(content)
        phone = normalize_phone(caller_phone) if caller_phone else None

        suggestion = None
        if chosen_unit_id is not None:
            suggestion = (int(chosen_unit_id), None, {"source": "citizen"})
        elif self.hl.suggester is not None:
            try:
                suggestion = self.hl.suggester(content)
            except Exception:  # suggestions help; they must never stop a ticket being written
                log.exception("unit suggestion failed")

        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            if chosen_unit_id is not None:
                self._unit(s, chosen_unit_id, "service_code")
            caller_id = None
            if phone:
                # One upsert statement: two operators writing tickets for the same new caller at
                # once must not collide on the unique phone, and it costs one round trip.
                upsert = _statements(self.hl.dialect)["upsert_caller"]
                caller_id, special_group = s.execute(upsert, {"phone": phone, "name": caller_name, "now": now}).one()
                if special_group:
                    green_channel = True  # special groups always take the green channel
            t = Ticket(
                number=self._next_number(s, now),
                channel=channel,
                line=line,
                type=type_,
                urgency=urgency,
                green_channel=bool(green_channel),
                confidential=bool(confidential),
                caller_id=caller_id,
                caller_name=caller_name,
                co_units=[],  # a new ticket has none; saying so spares a lazy load in the log
                call_id=call_id,
                area=area,
                address=address,
                title=title,
                content=content,
                status=Status.ACCEPTED.value,
                created_by_id=actor.user_id,
                accepted_at=now,
                updated_at=now,
                extension_days=0,
                press_count=0,
                return_count=0,
                reopen_count=0,
                escalated=False,
            )
            if suggestion:
                unit_id, confidence, payload = suggestion
                t.suggested_unit_id, t.suggestion_confidence, t.suggestion = unit_id, confidence, payload
            s.add(t)
            s.flush()
            if call_id is not None:
                from hotline.calls import Call

                call = s.get(Call, call_id)
                if call is None:
                    raise InvalidInput("关联的来电记录不存在", field="call_id")
                call.ticket_id = t.id
                call.caller_id = call.caller_id or caller_id
            self._log(uow, t, actor, "accept", None, (), None, None)
            uow.commit()
            return t

    def amend(self, actor: Actor, ticket_id: int, expected_version: int | None = None, **fields: Any) -> Ticket:
        """Correct the intake details before dispatch (type, urgency, flags, area, address, text)."""
        _require_role(actor, (*CENTER_ROLES, Role.EXPERT), "修改工单")
        allowed = {"type", "urgency", "green_channel", "confidential", "area", "address", "title", "content"}
        unknown = set(fields) - allowed
        if unknown:
            raise InvalidInput(f"不能修改字段：{', '.join(sorted(unknown))}")
        with self._change(actor, ticket_id, "amend", expected_version) as c:
            _require_status(c.ticket, (Status.ACCEPTED, Status.RETURNED), "修改")
            t = c.ticket
            for key, value in fields.items():
                if key == "type":
                    value = _enum(TicketType, value, key, "工单类型")
                elif key == "urgency":
                    value = _enum(Urgency, value, key, "紧急程度")
                elif key in ("green_channel", "confidential"):
                    value = bool(value)
                elif key == "content":
                    value = _text(value, key, "诉求内容", limit=MAX_CONTENT)
                else:
                    value = _text(value, key, key, required=key == "title", limit=255)
                setattr(t, key, value)
        return t

    def close_first_contact(
        self, actor: Actor, ticket_id: int, answer: str, expected_version: int | None = None
    ) -> Ticket:
        """直接办结: answered on the spot (an operator from the knowledge base, or an expert desk)."""
        _require_role(actor, (*CENTER_ROLES, Role.EXPERT), "直接办结")
        answer = _text(answer, "answer", "答复内容")
        with self._change(actor, ticket_id, "close_first_contact", expected_version) as c:
            t = c.ticket
            _require_status(t, (Status.ACCEPTED,), "直接办结")
            if actor.role == Role.EXPERT and t.expert_unit_id != actor.unit_id:
                raise Forbidden("该工单未转至本专家坐席")
            now = self.hl.now()
            t.status, t.close_kind, t.outcome = Status.CLOSED.value, "first_contact", answer
            t.closed_at, t.closed_on_time = now, True
            self._close_children(c, t, now)
            self._schedule_callbacks(c.session, t)
        return t

    def reject(
        self, actor: Actor, ticket_id: int, reason: str, note: str | None = None, expected_version: int | None = None
    ) -> Ticket:
        """不予受理 with a reason from the fixed list."""
        _require_role(actor, CENTER_ROLES, "作不予受理")
        reason = _enum(RejectReason, reason, "reason", "不予受理理由")
        note = _text(note, "note", "说明", required=False)
        with self._change(actor, ticket_id, "reject", expected_version) as c:
            _require_status(c.ticket, (Status.ACCEPTED, Status.RETURNED), "不予受理")
            t, now = c.ticket, self.hl.now()
            t.status, t.reject_reason, t.closed_at = Status.REJECTED.value, reason, now
            c.note = note
            # Children merged into it are the same matter: they end with it, not stranded as 已并单.
            for child in self._children(c.session, t):
                before, before_units = snapshot(child), child.unit_ids()
                child.status, child.reject_reason, child.closed_at = Status.REJECTED.value, reason, now
                self._log(c.uow, child, actor, "reject_with_master", before, before_units, Status.MERGED.value,
                          f"随主案 {t.number} 不予受理")  # fmt: skip
        return t

    def transfer_to_expert(
        self, actor: Actor, ticket_id: int, desk_unit_id: int, note: str | None = None,
        expected_version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """转专家坐席 (三方通话): the ticket waits at the expert desk for its answer."""
        _require_role(actor, CENTER_ROLES, "转专家坐席")
        with self._change(actor, ticket_id, "transfer_to_expert", expected_version) as c:
            _require_status(c.ticket, (Status.ACCEPTED,), "转专家坐席")
            desk = self._unit(c.session, desk_unit_id, "desk_unit_id", allow_desk=True)
            if desk.kind != UnitKind.EXPERT_DESK:
                raise InvalidInput("目标单位不是专家坐席", field="desk_unit_id")
            c.ticket.expert_unit_id = desk.id
            c.note = _text(note, "note", "说明", required=False)
        return c.ticket

    def hand_back(self, actor: Actor, ticket_id: int, note: str, expected_version: int | None = None) -> Ticket:
        """Expert hands the ticket back to the call hall (e.g. it needs a unit after all)."""
        _require_role(actor, (Role.EXPERT, *SUPERVISORS), "退回话务")
        note = _text(note, "note", "退回说明")
        with self._change(actor, ticket_id, "hand_back", expected_version) as c:
            _require_status(c.ticket, (Status.ACCEPTED,), "退回话务")
            if c.ticket.expert_unit_id is None:
                raise IllegalStep("该工单不在专家坐席")
            if actor.role == Role.EXPERT and c.ticket.expert_unit_id != actor.unit_id:
                raise Forbidden("该工单未转至本专家坐席")
            c.ticket.expert_unit_id = None
            c.note = note
        return c.ticket

