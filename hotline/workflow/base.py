"""The workflow's plumbing: the change context, the event log, numbering, unit assignment,
the permission and state checks every step shares, and the helpers the phases have in common."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from hotline.callbacks import Callback, CallbackStatus
from hotline.callers import Caller
from hotline.errors import Conflict, Forbidden, IllegalStep, InvalidInput, NotFound
from hotline.events import TicketChanged
from hotline.tickets import (
    STATUS_LABELS,
    Status,
    Ticket,
    TicketCoUnit,
    TicketCounter,
    TicketEvent,
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


class StepsBase:
    """What every phase's steps stand on; ``TicketService`` (``hotline.workflow``) combines the phases."""

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
