"""The ticket workflow: every step of a ticket's life as a service-layer operation.

Each operation checks who may act, checks the ticket's state, changes it in one transaction, appends
to the ticket's event log and, after the commit, publishes a ``TicketChanged`` event. A refused step
raises and changes nothing. A caller that passes ``expected_version`` (what its screen showed) gets a
``Conflict`` when somebody else changed the ticket first; without it, the version column still stops
two transactions that read the same row from both writing it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from hotline.callbacks import Callback, CallbackStatus
from hotline.callers import Caller, normalize_phone
from hotline.errors import Conflict, Forbidden, IllegalStep, InvalidInput, NotFound
from hotline.events import CallbackRecorded, TicketChanged
from hotline.tickets import (
    AT_UNIT,
    OPEN,
    STATUS_LABELS,
    Channel,
    RejectReason,
    Satisfaction,
    Status,
    Ticket,
    TicketCoUnit,
    TicketCounter,
    TicketEvent,
    TicketType,
    Urgency,
)
from hotline.units import Unit, UnitKind
from hotline.users import Actor, Role

if TYPE_CHECKING:
    from hotline.app import Hotline, UnitOfWork

log = logging.getLogger(__name__)

CENTER_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
MAX_CONTENT = 20_000

# The fields the event log records before/after values of.
TRACKED = (
    "status", "unit_id", "expert_unit_id", "master_id", "type", "urgency", "green_channel",
    "confidential", "area", "address", "title", "content", "sign_due_at", "due_at", "return_due_at",
    "pending_extension_days", "extension_days", "press_count", "escalated", "return_count",
    "reopen_count", "outcome", "close_kind", "reject_reason", "satisfaction", "solved",
)  # fmt: skip


# Statements on the ticket-creation path, built once: constructing them per call cost more CPU
# than running them (see bench/core_bench.py).
_INSERT_EVENT = insert(TicketEvent.__table__).returning(TicketEvent.__table__.c.id)
_STATEMENTS: dict[str, dict[str, Any]] = {}


def _statements(dialect_name: str) -> dict[str, Any]:
    if dialect_name not in _STATEMENTS:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        counter = dialect.insert(TicketCounter).values(day=bindparam("day"), last=1)
        caller = dialect.insert(Caller).values(
            phone=bindparam("phone"), name=bindparam("name"), created_at=bindparam("now"),
            last_contact_at=bindparam("now"),
        )  # fmt: skip
        _STATEMENTS[dialect_name] = {
            "bump_counter": counter.on_conflict_do_update(
                index_elements=["day"], set_={"last": TicketCounter.last + 1}
            ).returning(TicketCounter.last),
            "upsert_caller": caller.on_conflict_do_update(
                index_elements=["phone"],
                set_={"last_contact_at": caller.excluded.last_contact_at,
                      "name": func.coalesce(Caller.name, caller.excluded.name)},
            ).returning(Caller.id, Caller.special_group),
        }  # fmt: skip
    return _STATEMENTS[dialect_name]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value


def snapshot(t: Ticket) -> dict[str, Any]:
    snap = {k: _plain(getattr(t, k)) for k in TRACKED}
    snap["co_unit_ids"] = sorted(c.unit_id for c in t.co_units)
    return snap


@dataclasses.dataclass
class Change:
    uow: "UnitOfWork"
    ticket: Ticket
    actor: Actor
    note: str | None = None
    data: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def session(self):  # noqa: ANN201
        return self.uow.session


def _require_role(actor: Actor, roles: Iterable[str], what: str) -> None:
    if actor.role != "system" and actor.role not in roles:
        raise Forbidden(f"当前角色无权{what}")


def _require_status(t: Ticket, allowed: Iterable[str], what: str) -> None:
    allowed = tuple(allowed)
    if t.status not in allowed:
        now = STATUS_LABELS.get(Status(t.status), t.status)
        raise IllegalStep(f"工单当前状态为「{now}」，不能{what}", status=t.status)


def _text(value: str | None, field: str, label: str, required: bool = True, limit: int = 5000) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(f"请填写{label}", field=field)
        return None
    if len(value) > limit:
        raise InvalidInput(f"{label}不能超过{limit}字", field=field)
    return value


def _enum(enum_cls: type, value: Any, field: str, label: str) -> str:
    try:
        return enum_cls(value).value
    except ValueError:
        choices = ", ".join(e.value for e in enum_cls)
        raise InvalidInput(f"{label}取值无效：{value!r}（可选 {choices}）", field=field) from None


class TicketService:
    def __init__(self, hotline: "Hotline") -> None:
        self.hl = hotline

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _change(
        self, actor: Actor, ticket_id: int, action: str, expected_version: int | None = None
    ) -> Iterator[Change]:
        with self.hl.uow() as uow:
            t = uow.session.get(Ticket, ticket_id)
            if t is None:
                raise NotFound("工单不存在", ticket_id=ticket_id)
            if expected_version is not None and t.version != expected_version:
                raise Conflict("工单已被他人修改，请刷新后重试", current_version=t.version, status=t.status)
            before, before_units, from_status = snapshot(t), t.unit_ids(), t.status
            change = Change(uow, t, actor)
            yield change
            self._log(uow, t, actor, action, before, before_units, from_status, change.note, change.data)
            uow.commit()

    def _log(
        self,
        uow: "UnitOfWork",
        t: Ticket,
        actor: Actor,
        action: str,
        before: dict[str, Any] | None,
        before_units: tuple[int, ...],
        from_status: str | None,
        note: str | None,
        data: dict[str, Any] | None = None,
    ) -> int:
        now = self.hl.now()
        t.updated_at = now
        after = snapshot(t)
        if before is None:
            b, a = None, after
        else:
            changed = [k for k in after if after[k] != before.get(k)]
            b, a = {k: before.get(k) for k in changed}, {k: after[k] for k in changed}
        if data:
            a = {**(a or {}), **data}
        # The ticket's own changes are flushed first (the event row must follow them); the event
        # row itself goes in with one INSERT … RETURNING, cheaper than the ORM's unit of work on a
        # path every ticket change takes.
        uow.session.flush()
        row = dict(ticket_id=t.id, at=now, actor_id=actor.user_id, actor_role=actor.role, action=action,
                   from_status=from_status, to_status=t.status, note=note, before=b, after=a)  # fmt: skip
        event_id = uow.session.execute(_INSERT_EVENT, row).scalar_one()
        uow.add_event(
            TicketChanged(
                ticket_id=t.id,
                number=t.number,
                action=action,
                status=t.status,
                event_id=event_id,
                at=now,
                actor_id=actor.user_id,
                unit_ids=t.unit_ids(),
                previous_unit_ids=before_units,
                expert_unit_id=t.expert_unit_id,
                created_by_id=t.created_by_id,
                previous_expert_unit_id=(before or {}).get("expert_unit_id"),
            )
        )
        return event_id

    def _next_number(self, session, now: dt.datetime) -> str:  # noqa: ANN001
        """The next number of the day, unique across processes.

        On PostgreSQL the counter row is bumped in its own tiny autocommit transaction, so creating
        transactions do not queue behind each other's row lock until they commit (a number is lost
        only when its ticket's transaction fails: a gap, never a duplicate). SQLite has one writer
        at a time anyway, and a second connection would wait on our own write lock, so there the
        bump stays inside the creating transaction.
        """
        day = now.strftime("%Y%m%d")
        bump = _statements(self.hl.dialect)["bump_counter"]
        if self.hl.dialect == "postgresql":
            with self.hl.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                n = conn.execute(bump, {"day": day}).scalar_one()
        else:
            n = session.execute(bump, {"day": day}).scalar_one()
        return f"{day}-{n:05d}"

    def _unit(self, session, unit_id: Any, field: str, allow_desk: bool = False) -> Unit:  # noqa: ANN001
        try:
            unit_id = int(unit_id)
        except (TypeError, ValueError):
            raise InvalidInput("单位编号无效", field=field) from None
        unit = session.get(Unit, unit_id)
        if unit is None or not unit.active:
            raise InvalidInput("单位不存在或已停用", field=field, unit_id=unit_id)
        if unit.kind == UnitKind.EXPERT_DESK and not allow_desk:
            raise InvalidInput("专家坐席不能作为承办单位，请使用「转专家」", field=field)
        return unit

    def _assign(self, c: Change, unit_id: Any, co_unit_ids: Iterable[Any] | None) -> None:
        """Give the ticket to a lead unit (and co-handling units) with fresh deadlines."""
        t, s, now = c.ticket, c.session, self.hl.now()
        lead = self._unit(s, unit_id, "unit_id")
        co_ids: list[int] = []
        for cid in co_unit_ids or ():
            co = self._unit(s, cid, "co_unit_ids")
            if co.id == lead.id:
                raise InvalidInput("协办单位不能与主办单位相同", field="co_unit_ids")
            if co.id not in co_ids:
                co_ids.append(co.id)
        limits, cal = self.hl.time_limits, self.hl.calendar
        t.unit_id = lead.id
        t.co_units = _reconcile_co_units(t.co_units, co_ids)
        t.expert_unit_id = None
        t.status = Status.DISPATCHED.value
        t.dispatched_at = now
        t.signed_at = t.replied_at = t.reviewed_at = None
        t.signed_on_time = None
        t.sign_due_at = limits.sign_limit(t.urgency, t.green_channel).after(now, cal)
        t.due_at = limits.reply_limit(t.type, t.urgency, t.green_channel).after(now, cal)
        t.return_due_at = limits.return_window.after(now, cal)
        t.extension_days = 0
        t.pending_extension_days = t.pending_extension_reason = None

    def _is_lead(self, actor: Actor, t: Ticket) -> bool:
        return actor.role == Role.UNIT and actor.unit_id is not None and actor.unit_id == t.unit_id

    def _co(self, actor: Actor, t: Ticket) -> TicketCoUnit | None:
        if actor.role != Role.UNIT:
            return None
        return next((c for c in t.co_units if c.unit_id == actor.unit_id), None)

    def _require_lead(self, actor: Actor, t: Ticket, what: str) -> None:
        if actor.role == "system":
            return
        if actor.role != Role.UNIT:
            raise Forbidden(f"只有承办单位可以{what}")
        if not self._is_lead(actor, t):
            raise Forbidden(f"该工单不由本单位主办，不能{what}")

    # ------------------------------------------------------------------ intake
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

    # ------------------------------------------------------------------ dispatch and the unit's part
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

    # ------------------------------------------------------------------ the center closes the loop
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

    def _close_children(self, c: Change, t: Ticket, now: dt.datetime) -> None:
        """Merged children close with their master (however the master was closed)."""
        for child in self._children(c.session, t):
            before, before_units = snapshot(child), child.unit_ids()
            child.status, child.close_kind, child.closed_at = Status.CLOSED.value, "master", now
            child.outcome, child.closed_on_time = t.outcome, t.closed_on_time
            self._log(c.uow, child, c.actor, "close_with_master", before, before_units, Status.MERGED.value,
                      f"随主案 {t.number} 办结")  # fmt: skip

    def _children(self, session, t: Ticket) -> list[Ticket]:  # noqa: ANN001
        return list(session.scalars(select(Ticket).where(Ticket.master_id == t.id).order_by(Ticket.id)))

    def _schedule_callbacks(self, session, t: Ticket) -> list[Callback]:  # noqa: ANN001
        """One callback per distinct caller of the ticket and its merged children, for this round."""
        cal, now = self.hl.calendar, self.hl.now()
        day = cal.add_working_days(now, self.hl.time_limits.callback_delay_workdays).date()
        due = dt.datetime.combine(day, dt.time(self.hl.settings.callback_hours[0]))
        made, seen = [], set()
        for source in [t, *self._children(session, t)]:
            if source.caller_id is None or source.caller_id in seen:
                continue
            seen.add(source.caller_id)
            exists = session.scalar(
                select(Callback.id).where(
                    Callback.ticket_id == t.id, Callback.caller_id == source.caller_id, Callback.round == t.reopen_count
                )
            )
            if exists:
                continue
            cb = Callback(
                ticket_id=t.id,
                source_ticket_id=source.id,
                caller_id=source.caller_id,
                round=t.reopen_count,
                confidential=source.confidential,
                status=CallbackStatus.PENDING.value,
                due_at=due,
                next_attempt_at=due,
                attempts=0,
                created_at=now,
            )
            session.add(cb)
            made.append(cb)
        return made

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

    # ------------------------------------------------------------------ merge and split
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


def _reconcile_co_units(current: list[TicketCoUnit], unit_ids: list[int]) -> list[TicketCoUnit]:
    """The co-unit rows for a new round of handling.

    A unit that stays keeps its row (reset: it signs and gives its opinion again; the old opinion is
    in the event log). Building fresh rows for the same units instead made the flush INSERT them
    before the old rows were DELETEd, which the (ticket_id, unit_id) unique key refused.
    """
    kept = {c.unit_id: c for c in current}
    rows = []
    for unit_id in unit_ids:
        row = kept.get(unit_id)
        if row is None:
            row = TicketCoUnit(unit_id=unit_id)
        else:
            row.signed_at = row.opinion = row.opinion_at = None
        rows.append(row)
    return rows


def _title_from(content: str) -> str:
    first = content.strip().splitlines()[0]
    return first[:30] + ("…" if len(first) > 30 else "")
