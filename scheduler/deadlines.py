"""Deadline watch (时限监控): traffic lights, automatic press notices (催办) and escalation.

Every scan (default each minute) looks at the tickets at a unit (dispatched or signed):

- a ticket whose light changed (green → yellow when less than ``near_deadline_fraction`` of its
  working time is left, → red when overdue; the core's ``TicketQueries.light`` decides) is published
  as a :class:`~scheduler.events.DeadlineLightChanged` so the unit's and the supervisors' screens
  repaint it;
- an overdue ticket not yet pressed since it fell due (``last_pressed_at`` before ``due_at``) gets a
  press notice in its event log through ``TicketService.press`` as the system — once per deadline
  (an approved extension moves ``due_at`` and so arms it again);
- a ticket overdue by ``escalate_after_workdays`` working days (working time, holidays excluded) and
  not yet escalated is pressed again with ``escalate=True`` (督办升级 to the supervisors).

Both writes are guarded by the ticket's own state, so a scan that runs twice (two processes for a
moment, a restart) presses nobody twice.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import load_only

from hotline.errors import HotlineError
from hotline.tickets import AT_UNIT, Ticket, TicketEvent
from hotline.users import Actor
from scheduler.events import DeadlineLightChanged

if TYPE_CHECKING:
    from hotline.app import Hotline
    from scheduler.config import SchedulerConfig

log = logging.getLogger(__name__)
DAY_S = 86400


class DeadlineWatch:
    def __init__(self, hl: "Hotline", cfg: "SchedulerConfig") -> None:
        self.hl = hl
        self.cfg = cfg
        # Last light published per ticket. In memory: after a restart or a takeover every yellow
        # and red light is published once more, which screens take as a no-op repaint.
        self.lights: dict[int, str] = {}

    def run(self) -> dict[str, int]:
        now = self.hl.now()
        stats = {"yellow": 0, "red": 0, "pressed": 0, "escalated": 0}
        self._lights(now, stats)
        self._press(now, stats)
        self._escalate(now, stats)
        return stats

    # ------------------------------------------------------------------ lights
    def _lights(self, now: dt.datetime, stats: dict[str, int]) -> None:
        events: list[DeadlineLightChanged] = []
        seen: set[int] = set()
        with self.hl.uow(readonly=True) as uow:
            s = uow.session
            # Only the columns the light needs (never the ticket's text): a big city has tens of
            # thousands of tickets at its units at any time.
            cols = load_only(Ticket.id, Ticket.number, Ticket.version, Ticket.status, Ticket.type, Ticket.urgency,
                             Ticket.green_channel, Ticket.dispatched_at, Ticket.due_at, Ticket.unit_id,
                             Ticket.expert_unit_id, Ticket.created_by_id)  # fmt: skip
            rows = s.scalars(
                select(Ticket).options(cols).where(Ticket.status.in_(AT_UNIT), Ticket.due_at.is_not(None))
            ).all()
            changed = []
            for t in rows:
                seen.add(t.id)
                light = self.hl.queries.light(t, now)
                if light in ("yellow", "red") and self.lights.get(t.id) != light:
                    changed.append((t, light))
                self.lights[t.id] = light or "green"
            if changed:
                ids = [t.id for t, _ in changed]
                last = dict(
                    s.execute(
                        select(TicketEvent.ticket_id, func.max(TicketEvent.id))
                        .where(TicketEvent.ticket_id.in_(ids))
                        .group_by(TicketEvent.ticket_id)
                    ).all()
                )
                for t, light in changed:
                    stats[light] += 1
                    events.append(
                        DeadlineLightChanged(
                            ticket_id=t.id, number=t.number,
                            action="deadline_overdue" if light == "red" else "deadline_near",
                            status=t.status, event_id=last.get(t.id, 0), at=now, actor_id=None,
                            unit_ids=t.unit_ids(), previous_unit_ids=t.unit_ids(),
                            expert_unit_id=t.expert_unit_id, created_by_id=t.created_by_id,
                            light=light, due_at=t.due_at.isoformat() if t.due_at else None,
                        )  # fmt: skip
                    )
        for gone in set(self.lights) - seen:
            del self.lights[gone]
        if events:
            self.hl.bus.publish(list(events))

    # ------------------------------------------------------------------ press and escalate
    def _press(self, now: dt.datetime, stats: dict[str, int]) -> None:
        with self.hl.uow(readonly=True) as uow:
            due = uow.session.execute(
                select(Ticket.id, Ticket.due_at).where(
                    Ticket.status.in_(AT_UNIT), Ticket.due_at < now,
                    or_(Ticket.last_pressed_at.is_(None), Ticket.last_pressed_at < Ticket.due_at),
                ).order_by(Ticket.due_at)
            ).all()  # fmt: skip
        for tid, due_at in due:
            note = f"已超过办理时限（{due_at:%Y-%m-%d %H:%M}），系统自动催办，请抓紧办理并回复"
            if self._act(tid, note, escalate=False, guard=lambda t: t.last_pressed_at is None or t.last_pressed_at < t.due_at):
                stats["pressed"] += 1

    def _escalate(self, now: dt.datetime, stats: dict[str, int]) -> None:
        n = self.cfg.escalate_after_workdays
        if n <= 0:
            return
        # Working days are never more than calendar days, so this pre-filter misses no candidate.
        with self.hl.uow(readonly=True) as uow:
            rows = uow.session.execute(
                select(Ticket.id, Ticket.due_at).where(
                    Ticket.status.in_(AT_UNIT), Ticket.escalated.is_(False),
                    and_(Ticket.due_at.is_not(None), Ticket.due_at <= now - dt.timedelta(days=n)),
                )
            ).all()  # fmt: skip
        cal = self.hl.calendar
        for tid, due_at in rows:
            if cal.working_seconds_between(due_at, now) < n * DAY_S:
                continue
            note = f"超过办理时限{n}个工作日仍未办结，升级督办"
            if self._act(tid, note, escalate=True, guard=lambda t: not t.escalated):
                stats["escalated"] += 1

    def _act(self, ticket_id: int, note: str, escalate: bool, guard: Any) -> bool:
        """Press (or escalate) one ticket if ``guard`` still holds on a fresh read."""
        with self.hl.uow(readonly=True) as uow:
            t = uow.session.get(Ticket, ticket_id)
            if t is None or t.status not in AT_UNIT or not guard(t):
                return False
            version = t.version
        try:
            # expected_version: if anybody (another scheduler, the unit) changed the ticket since
            # the read, the core refuses and the next scan looks again.
            self.hl.tickets.press(Actor.system(), ticket_id, note=note, escalate=escalate, expected_version=version)
        except HotlineError as e:
            log.info("deadline watch: ticket %s not pressed: %s", ticket_id, e.detail)
            return False
        log.info("deadline watch: ticket %s %s", ticket_id, "escalated" if escalate else "pressed")
        return True
