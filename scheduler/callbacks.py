"""Satisfaction callbacks (回访) through the SIP bridge's outbound queue.

The core writes one ``Callback`` per caller of a closed ticket and per round (merged children's
callers included; unique key ``(ticket_id, caller_id, round)``), due at the start of calling hours
on the next working day. Each scan (default every 30 s) of the leading scheduler:

1. **collects results**: a callback in ``calling`` whose outbound job the bridge has finished is
   settled. ``answered`` with a valid first digit records the result through
   ``TicketService.record_callback(..., method="auto")`` (unsatisfied reopens the ticket: 重办);
   busy / no answer / failed / answered without a valid digit puts it back to ``pending`` for a
   later try, or — after ``callback_max_attempts`` tries — to ``manual`` (the operators' list,
   ``GET /api/v1/callbacks?status=manual``, where a result is recorded by hand);
2. **withdraws** outbound jobs no bridge took before the end of calling hours, and jobs claimed by
   a bridge that died (claimed over 10 minutes ago, which the core would hand out again) (result
   ``{"outcome": "expired"}``; the try is not counted and the callback waits for the next window),
   so nobody is called at night even if a bridge comes back late;
3. **places** the due callbacks, only within calling hours (``Settings.callback_hours``, default
   9:00–20:00, on working days): in ONE transaction the callback moves ``pending → calling``
   (a conditional UPDATE) and its outbound job is inserted. A crash before the commit leaves
   neither; after it, both. A second scheduler, a restart or a repeated scan finds the callback no
   longer pending and places nothing: a citizen is never called twice for the same try, and a
   callback that has its result is never called again.

Retries are spread over the rest of the day: after try *k* of *n* the next one is at
``now + (end of calling hours − now) / (n − k + 1)``, at least ``callback_min_gap_minutes`` later,
moved to the next calling window if that falls after hours.

**The outbound job contract with the SIP bridge** (``outbound_jobs`` row, ``kind='satisfaction'``):
``number`` is the number to dial (nothing else about the caller travels: a confidential caller is
called but never named, and the prompt names nobody), ``ticket_id`` and ``callback_id`` identify
the survey. The bridge plays the survey prompt (``telephony/prompts/survey.wav``) and collects up to
two DTMF digits — first 1 满意 satisfied / 2 基本满意 basically satisfied / 3 不满意 unsatisfied,
then 1 solved / 2 not solved — and reports through ``CallService.finish_outbound(job_id, result,
ok)`` with ``result = {"outcome": "answered"|"busy"|"no_answer"|"failed", "digits": "12",
"call_id": <calls.id or null>, "detail": "..."}`` (the fields of ``telephony.ports.OutboundResult``).
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update

from hotline.callbacks import Callback, CallbackStatus
from hotline.callers import Caller
from hotline.calls import OutboundJob
from hotline.errors import HotlineError
from hotline.users import Actor

if TYPE_CHECKING:
    from hotline.app import Hotline
    from scheduler.config import SchedulerConfig

log = logging.getLogger(__name__)

SATISFACTION_DIGITS = {"1": "satisfied", "2": "basic", "3": "unsatisfied"}
SOLVED_DIGITS = {"1": True, "2": False}
JOB_KIND = "satisfaction"
STALE_CLAIM_S = 600  # CallService.claim_outbound's default: a claim this old belongs to a dead bridge


def parse_result(result: dict[str, Any] | None) -> tuple[str, str | None, bool | None]:
    """(outcome, satisfaction, solved) from a bridge result; satisfaction None = no valid answer."""
    result = result or {}
    outcome = str(result.get("outcome") or "failed")
    digits = str(result.get("digits") or "").strip()
    if outcome != "answered" or not digits or digits[0] not in SATISFACTION_DIGITS:
        return (outcome if outcome != "answered" else "no_input"), None, None
    return outcome, SATISFACTION_DIGITS[digits[0]], SOLVED_DIGITS.get(digits[1:2])


class CallbackDialer:
    def __init__(self, hl: "Hotline", cfg: "SchedulerConfig") -> None:
        self.hl = hl
        self.cfg = cfg

    # ------------------------------------------------------------------ calling hours
    def _window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        a, b = self.hl.settings.callback_hours
        start = dt.datetime.combine(day, dt.time(a))
        end = dt.datetime.combine(day, dt.time(0)) + dt.timedelta(hours=b)
        return start, end - dt.timedelta(minutes=self.cfg.callback_end_margin_minutes)

    def _calling_day(self, day: dt.date) -> bool:
        return self.hl.calendar.is_workday(day) if self.cfg.callback_on_workdays_only else True

    def in_hours(self, when: dt.datetime) -> bool:
        start, end = self._window(when.date())
        return self._calling_day(when.date()) and start <= when < end

    def next_window(self, when: dt.datetime) -> dt.datetime:
        """The first moment at or after ``when`` inside calling hours."""
        day = when.date()
        for _ in range(400):
            start, end = self._window(day)
            if self._calling_day(day):
                if when < start:
                    return start
                if when < end:
                    return when
            day += dt.timedelta(days=1)
            when = dt.datetime.combine(day, dt.time())
        raise RuntimeError("no calling window within a year")

    def next_try(self, now: dt.datetime, attempts: int) -> dt.datetime:
        remaining = max(self.cfg.callback_max_attempts - attempts, 1)
        _, end = self._window(now.date())
        gap = max((end - now) / (remaining + 1), dt.timedelta(minutes=self.cfg.callback_min_gap_minutes))
        return self.next_window(now + gap)

    # ------------------------------------------------------------------ the scan
    def run(self) -> dict[str, int]:
        now = self.hl.now()
        stats = {"recorded": 0, "retry": 0, "manual": 0, "expired": 0, "placed": 0}
        self.collect(now, stats)
        if not self.in_hours(now):
            stats["expired"] = self.withdraw(now)
            self.collect(now, stats)
        else:
            self.place(now, stats)
        return stats

    def collect(self, now: dt.datetime, stats: dict[str, int]) -> None:
        """Settle every calling callback whose latest outbound job has finished."""
        with self.hl.uow(readonly=True) as uow:
            latest = (
                select(OutboundJob.callback_id, func.max(OutboundJob.id).label("job_id"))
                .where(OutboundJob.kind == JOB_KIND, OutboundJob.callback_id.is_not(None))
                .group_by(OutboundJob.callback_id)
                .subquery()
            )
            rows = uow.session.execute(
                select(Callback.id, Callback.attempts, OutboundJob.status, OutboundJob.result)
                .join(latest, latest.c.callback_id == Callback.id)
                .join(OutboundJob, OutboundJob.id == latest.c.job_id)
                .where(Callback.status == CallbackStatus.CALLING.value, OutboundJob.status.in_(("done", "failed")))
            ).all()
            orphans = uow.session.scalars(
                select(Callback.id).where(Callback.status == CallbackStatus.CALLING.value,
                                          ~select(OutboundJob.id).where(OutboundJob.callback_id == Callback.id).exists())
            ).all()  # fmt: skip
        for cb_id in orphans:  # cannot happen through this module; repaired rather than stuck
            self._settle(cb_id, "pending", now, last_result="lost", uncount=True)
        for cb_id, attempts, _status, result in rows:
            outcome, satisfaction, solved = parse_result(result)
            if satisfaction is not None:
                try:
                    self.hl.tickets.record_callback(Actor.system(), cb_id, satisfaction, solved,
                                                    note="自动语音回访", method="auto")  # fmt: skip
                    stats["recorded"] += 1
                    log.info("callback %s recorded: %s", cb_id, satisfaction)
                except HotlineError as e:  # done or cancelled meanwhile: nothing to do
                    log.info("callback %s not recorded: %s", cb_id, e.detail)
                continue
            if outcome == "expired":
                if self._settle(cb_id, "pending", self.next_window(now + dt.timedelta(minutes=1)), "expired",
                                uncount=True):  # fmt: skip
                    stats["retry"] += 1
            elif attempts >= self.cfg.callback_max_attempts:
                if self._settle(cb_id, CallbackStatus.MANUAL.value, None, outcome):
                    stats["manual"] += 1
                    log.info("callback %s: %s tries without an answer, to the manual list", cb_id, attempts)
            elif self._settle(cb_id, "pending", self.next_try(now, attempts), outcome):
                stats["retry"] += 1

    def _settle(self, cb_id: int, status: str, next_at: dt.datetime | None, last_result: str,
                uncount: bool = False) -> bool:  # fmt: skip
        values: dict[str, Any] = {"status": status, "last_result": last_result[:16]}
        if next_at is not None:
            values["next_attempt_at"] = next_at
        if uncount:
            values["attempts"] = func.max(Callback.attempts - 1, 0) if self.hl.dialect == "sqlite" else func.greatest(
                Callback.attempts - 1, 0)
        with self.hl.uow() as uow:
            n = uow.session.execute(
                update(Callback)
                .where(Callback.id == cb_id, Callback.status == CallbackStatus.CALLING.value)
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
            uow.commit()
        return bool(n)

    def withdraw(self, now: dt.datetime) -> int:
        """Outside calling hours: withdraw the satisfaction jobs no bridge has taken."""
        # A job claimed by a bridge that died is claimable again after the core's stale time
        # (``CallService.claim_outbound``): withdraw those too, or a bridge could dial it at night.
        stale = now - dt.timedelta(seconds=STALE_CLAIM_S)
        with self.hl.uow() as uow:
            n = uow.session.execute(
                update(OutboundJob)
                .where(OutboundJob.kind == JOB_KIND,
                       or_(OutboundJob.status == "pending",
                           and_(OutboundJob.status == "claimed", OutboundJob.claimed_at < stale)))
                .values(status="failed", result={"outcome": "expired", "digits": ""}, finished_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount  # fmt: skip
            uow.commit()
        if n:
            log.info("withdrew %s callback jobs left at the end of calling hours", n)
        return n

    def place(self, now: dt.datetime, stats: dict[str, int]) -> None:
        with self.hl.uow(readonly=True) as uow:
            due = uow.session.execute(
                select(Callback.id, Callback.ticket_id, Caller.phone)
                .join(Caller, Caller.id == Callback.caller_id, isouter=True)
                .where(Callback.status == CallbackStatus.PENDING.value, Callback.next_attempt_at <= now)
                .order_by(Callback.next_attempt_at, Callback.id)
                .limit(self.cfg.callback_batch)
            ).all()
        for cb_id, ticket_id, phone in due:
            with self.hl.uow() as uow:
                s = uow.session
                if not phone:  # no number to call: straight to the operators
                    s.execute(update(Callback).where(Callback.id == cb_id, Callback.status == "pending")
                              .values(status=CallbackStatus.MANUAL.value, last_result="no_number")
                              .execution_options(synchronize_session=False))  # fmt: skip
                    uow.commit()
                    stats["manual"] += 1
                    continue
                n = s.execute(
                    update(Callback)
                    .where(Callback.id == cb_id, Callback.status == CallbackStatus.PENDING.value,
                           Callback.next_attempt_at <= now)  # fmt: skip
                    .values(status=CallbackStatus.CALLING.value, attempts=Callback.attempts + 1, last_attempt_at=now)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if n != 1:  # somebody else placed it (or it was recorded by hand) meanwhile
                    continue
                s.add(OutboundJob(kind=JOB_KIND, number=phone, ticket_id=ticket_id, callback_id=cb_id,
                                  status="pending", not_before=now, attempts=0, created_at=now))  # fmt: skip
                uow.commit()
                stats["placed"] += 1
