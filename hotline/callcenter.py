"""The call side of the service layer: call records, operators' states, the outbound job queue.

The SIP bridge drives a call through ``offered → queued → assigned → answered → ended``; each step
is its own short transaction so the record survives a bridge that dies mid-call.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update

from hotline.app import retry_transactions
from hotline.callers import Caller, normalize_phone
from hotline.calls import Call, CallOutcome, OperatorState, OperatorStatus, OutboundJob
from hotline.errors import Forbidden, IllegalStep, InvalidInput, NotFound
from hotline.events import CallAssigned, CallEnded, CallOffered, CallQueued, OperatorStateChanged
from hotline.users import Actor, Role, User

if TYPE_CHECKING:
    from hotline.app import Hotline

SEATED_ROLES = (Role.OPERATOR, Role.EXPERT)


@retry_transactions
class CallService:
    def __init__(self, hotline: "Hotline") -> None:
        self.hl = hotline

    # ------------------------------------------------------------------ call records
    def offered(
        self, caller_number: str | None, line: str = "12345", *, bridge_id: str | None = None,
        sip_call_id: str | None = None, direction: str = "in", purpose: str | None = None,
    ) -> int:  # fmt: skip
        """A call arrived (the INVITE), or the bridge places one (``direction="out"`` with its
        ``purpose``). Returns the call record's id."""
        if direction not in ("in", "out"):
            raise InvalidInput("direction must be in or out")
        number = None
        if caller_number:
            try:
                number = normalize_phone(caller_number)
            except InvalidInput:
                number = None  # anonymous or garbled caller ID: still a call to count
        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            caller_id = s.scalar(select(Caller.id).where(Caller.phone == number)) if number else None
            call = Call(
                direction=direction, sip_call_id=sip_call_id, bridge_id=bridge_id, number=number,
                caller_id=caller_id, line=(line or "12345")[:16], offered_at=now,
                purpose=(purpose or None) and purpose[:20],
            )  # fmt: skip
            s.add(call)
            s.flush()
            uow.add_event(CallOffered(call.id, call.line, now))
            uow.commit()
            return call.id

    def _update(self, call_id: int, event: Any = None, **values: Any) -> Call:
        """Set fields of an open call in one transaction; ``event(call)`` may add a domain event."""
        with self.hl.uow() as uow:
            call = uow.session.get(Call, call_id)
            if call is None:
                raise NotFound("来电记录不存在", call_id=call_id)
            if call.ended_at is not None:
                raise IllegalStep("该通话已结束")
            for k, v in values.items():
                setattr(call, k, v)
            if event is not None:
                uow.add_event(event(call))
            uow.commit()
            return call

    def queued(self, call_id: int) -> None:
        """The caller now waits for a person (after greeting and menu): the queue grows."""
        now = self.hl.now()
        self._update(call_id, lambda call: CallQueued(call.id, now), queued_at=now)

    def assign(self, call_id: int, operator_id: int) -> None:
        """The bridge rings this operator: their state turns on-call and their console pops the caller."""
        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            call = s.get(Call, call_id)
            if call is None or call.ended_at is not None:
                raise NotFound("来电记录不存在或已结束", call_id=call_id)
            st = s.get(OperatorState, operator_id)
            if st is None:
                raise NotFound("坐席不存在", user_id=operator_id)
            call.operator_id = operator_id
            st.status, st.since, st.current_call_id = OperatorStatus.ON_CALL.value, now, call_id
            uow.add_event(OperatorStateChanged(operator_id, st.status, now))
            uow.add_event(CallAssigned(call_id, operator_id, call.caller_id, now))
            uow.commit()

    def unassign(self, call_id: int, operator_id: int) -> None:
        """The operator did not pick up in time: back to available, the call goes to the next one."""
        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            call = s.get(Call, call_id)
            if call is not None and call.operator_id == operator_id and call.answered_at is None:
                call.operator_id = None
            st = s.get(OperatorState, operator_id)
            if st is not None and st.current_call_id == call_id:
                # Skipped for not answering: away, so the queue does not ring them again at once.
                st.status, st.since, st.current_call_id = OperatorStatus.AWAY.value, now, None
                uow.add_event(OperatorStateChanged(operator_id, st.status, now))
            uow.commit()

    def answered(self, call_id: int, operator_id: int | None = None) -> None:
        """A person (operator or expert) answered: the wait ends here.

        The wait is counted from the moment the caller joined the queue for a person (after the
        greeting and any menu), as the 15-second answer rate of GB/T 33358 intends; a call that
        never went through a queue counts from its offer.
        """
        now = self.hl.now()
        with self.hl.uow() as uow:
            call = uow.session.get(Call, call_id)
            if call is None or call.ended_at is not None:
                raise NotFound("来电记录不存在或已结束", call_id=call_id)
            call.answered_at = now
            call.wait_seconds = (now - (call.queued_at or call.offered_at)).total_seconds()
            if operator_id is not None:
                call.operator_id = operator_id
            uow.commit()

    def ended(self, call_id: int, outcome: str, recording_path: str | None = None) -> None:
        try:
            outcome = CallOutcome(outcome).value
        except ValueError:
            raise InvalidInput(f"通话结果无效：{outcome!r}") from None
        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            call = s.get(Call, call_id)
            if call is None:
                raise NotFound("来电记录不存在", call_id=call_id)
            if call.ended_at is not None:
                return  # idempotent: a BYE retransmission or a second report
            call.ended_at, call.outcome = now, outcome
            if recording_path:
                call.recording_path = recording_path
            if call.wait_seconds is None:
                call.wait_seconds = (now - (call.queued_at or call.offered_at)).total_seconds()
            if call.operator_id is not None:
                st = s.get(OperatorState, call.operator_id)
                if st is not None and st.current_call_id == call_id:
                    if call.answered_at is None:
                        # The caller left while the operator's phone rang: nothing to wrap up.
                        st.status, st.since, st.current_call_id = OperatorStatus.AVAILABLE.value, now, None
                    else:
                        st.status, st.since, st.current_call_id = OperatorStatus.WRAP_UP.value, now, None
                        st.idle_since = now
                    uow.add_event(OperatorStateChanged(call.operator_id, st.status, now))
            uow.add_event(CallEnded(call_id, outcome, call.operator_id, now))
            uow.commit()

    def close_interrupted(self, bridge_id: str) -> int:
        """On a bridge's start: calls it left open when it died are closed as interrupted."""
        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            calls = list(s.scalars(select(Call).where(Call.bridge_id == bridge_id, Call.ended_at.is_(None))))
            for call in calls:
                call.ended_at, call.outcome = now, CallOutcome.INTERRUPTED.value
                if call.operator_id is not None:
                    st = s.get(OperatorState, call.operator_id)
                    if st is not None and st.current_call_id == call.id:
                        st.status, st.since, st.current_call_id = OperatorStatus.AVAILABLE.value, now, None
            uow.commit()
            return len(calls)

    def expert_joined(self, call_id: int, expert_id: int) -> None:
        """An expert desk joined the call (三方通话)."""
        self._update(call_id, expert_id=expert_id)

    def request_expert(self, actor: Actor, call_id: int, desk_unit_id: int) -> int:
        """The operator brings an expert desk into a live call: a job for the bridge holding the call."""
        from hotline.units import Unit, UnitKind

        if actor.role not in ("system", Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN):
            raise Forbidden("当前角色无权发起三方通话")
        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            call = s.get(Call, call_id)
            if call is None or call.ended_at is not None or call.answered_at is None:
                raise IllegalStep("只能在通话中邀请专家坐席")
            if actor.role == Role.OPERATOR and call.operator_id != actor.user_id:
                raise Forbidden("只能为本人正在接听的来电邀请专家")
            desk = s.get(Unit, desk_unit_id)
            if desk is None or desk.kind != UnitKind.EXPERT_DESK:
                raise InvalidInput("目标不是专家坐席", field="desk_unit_id")
            job = OutboundJob(kind="expert_join", number="", call_id=call.id, unit_id=desk.id,
                              operator_id=actor.user_id, bridge_id=call.bridge_id, status="pending",
                              not_before=now, attempts=0, created_at=now)  # fmt: skip
            s.add(job)
            uow.commit()
            return job.id

    def request_call_back(self, actor: Actor, call_id: int) -> int:
        """漏接回拨: the operator clicks a missed call; a bridge rings the operator and the citizen."""
        if actor.role not in (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN):
            raise Forbidden("当前角色无权回拨")
        call = self.get(call_id)
        if call is None or call.outcome != CallOutcome.ABANDONED or not call.number:
            raise IllegalStep("只能回拨未接通的来电")
        if call.callback_done_at is not None:
            raise IllegalStep("该来电已回拨")
        return self.enqueue_outbound("missed_call", call.number, call_id=call.id, operator_id=actor.user_id)

    def attach_ticket(self, call_id: int, ticket_id: int) -> None:
        with self.hl.uow() as uow:
            call = uow.session.get(Call, call_id)
            if call is None:
                raise NotFound("来电记录不存在")
            call.ticket_id = ticket_id
            uow.commit()

    def get(self, call_id: int) -> Call | None:
        with self.hl.uow(readonly=True) as uow:
            return uow.session.get(Call, call_id)

    def missed_calls(self, limit: int = 100) -> list[Call]:
        """漏接: abandoned inbound calls not yet called back, newest first."""
        with self.hl.uow(readonly=True) as uow:
            q = (
                select(Call)
                .where(Call.direction == "in", Call.outcome == CallOutcome.ABANDONED, Call.callback_done_at.is_(None),
                       Call.number.is_not(None))  # fmt: skip
                .order_by(Call.offered_at.desc())
                .limit(limit)
            )
            return list(uow.session.scalars(q))

    # ------------------------------------------------------------------ operators
    def set_state(self, actor: Actor, user_id: int, status: str) -> OperatorState:
        try:
            status = OperatorStatus(status).value
        except ValueError:
            raise InvalidInput(f"坐席状态无效：{status!r}", field="status") from None
        if actor.role not in ("system", Role.SUPERVISOR, Role.ADMIN) and actor.user_id != user_id:
            raise Forbidden("只能修改本人的坐席状态")
        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            user = s.get(User, user_id)
            if user is None or user.role not in SEATED_ROLES:
                raise NotFound("坐席不存在")
            st = s.get(OperatorState, user_id)
            if st is None:
                st = OperatorState(user_id=user_id, since=now)
                s.add(st)
            if st.current_call_id is not None and status == OperatorStatus.AVAILABLE:
                raise IllegalStep("通话中不能置为空闲")
            if status == OperatorStatus.AVAILABLE and st.status != OperatorStatus.AVAILABLE:
                st.idle_since = now
            st.status, st.since = status, now
            uow.add_event(OperatorStateChanged(user_id, status, now))
            uow.commit()
            return st

    def next_available(self, role: str = Role.OPERATOR, unit_id: int | None = None) -> tuple[int, str | None] | None:
        """Claim the longest-idle available operator (or an expert of ``unit_id``).

        The claim is an UPDATE guarded by the status it read, so two bridges asking at once never
        both get the same operator.
        """
        for _ in range(5):
            with self.hl.uow() as uow:
                s, now = uow.session, self.hl.now()
                q = (
                    select(OperatorState.user_id, User.sip_uri)
                    .join(User, User.id == OperatorState.user_id)
                    .where(OperatorState.status == OperatorStatus.AVAILABLE, User.active.is_(True), User.role == role)
                    .order_by(OperatorState.idle_since.asc().nulls_first(), OperatorState.user_id)
                    .limit(1)
                )
                if unit_id is not None:
                    q = q.where(User.unit_id == unit_id)
                row = s.execute(q).first()
                if row is None:
                    return None
                claimed = s.execute(
                    update(OperatorState)
                    .where(OperatorState.user_id == row.user_id, OperatorState.status == OperatorStatus.AVAILABLE)
                    .values(status=OperatorStatus.ON_CALL.value, since=now)
                ).rowcount
                if claimed:
                    uow.add_event(OperatorStateChanged(row.user_id, OperatorStatus.ON_CALL.value, now))
                    uow.commit()
                    return row.user_id, row.sip_uri
        return None

    def operator_states(self) -> list[dict[str, Any]]:
        with self.hl.uow(readonly=True) as uow:
            rows = uow.session.execute(
                select(User.id, User.display_name, User.role, OperatorState.status, OperatorState.since)
                .join(OperatorState, OperatorState.user_id == User.id, isouter=True)
                .where(User.role.in_(SEATED_ROLES), User.active.is_(True))
                .order_by(User.id)
            )
            return [
                {"user_id": r.id, "name": r.display_name, "role": r.role,
                 "status": r.status or OperatorStatus.OFFLINE.value,
                 "since": r.since.isoformat() if r.since else None}
                for r in rows
            ]  # fmt: skip

    # ------------------------------------------------------------------ outbound work for the bridges
    def enqueue_outbound(
        self, kind: str, number: str, *, ticket_id: int | None = None, callback_id: int | None = None,
        call_id: int | None = None, operator_id: int | None = None, not_before: dt.datetime | None = None,
    ) -> int:  # fmt: skip
        number = normalize_phone(number)
        with self.hl.uow() as uow:
            now = self.hl.now()
            job = OutboundJob(
                kind=kind, number=number, ticket_id=ticket_id, callback_id=callback_id, call_id=call_id,
                operator_id=operator_id, status="pending", not_before=not_before or now, attempts=0, created_at=now,
            )  # fmt: skip
            uow.session.add(job)
            uow.commit()
            return job.id

    def claim_outbound(self, bridge_id: str, limit: int = 1, stale_after_s: int = 600) -> list[OutboundJob]:
        """Claim due jobs for this bridge. On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets many bridges
        claim side by side; on SQLite the write lock taken at BEGIN serialises them. A job claimed by a
        bridge that died is claimable again after ``stale_after_s``."""
        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            stale = now - dt.timedelta(seconds=stale_after_s)
            q = (
                select(OutboundJob)
                .where(
                    or_(
                        and_(OutboundJob.status == "pending", OutboundJob.not_before <= now),
                        and_(OutboundJob.status == "claimed", OutboundJob.claimed_at < stale),
                    ),
                    or_(OutboundJob.bridge_id.is_(None), OutboundJob.bridge_id == bridge_id),
                )
                .order_by(OutboundJob.not_before, OutboundJob.id)
                .limit(limit)
            )
            if self.hl.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            jobs = list(s.scalars(q))
            for job in jobs:
                job.status, job.claimed_by, job.claimed_at = "claimed", bridge_id, now
                job.attempts += 1
            uow.commit()
            return jobs

    def finish_outbound(self, job_id: int, result: dict[str, Any], ok: bool = True) -> None:
        with self.hl.uow() as uow:
            job = uow.session.get(OutboundJob, job_id)
            if job is None:
                raise NotFound("外呼任务不存在")
            job.status, job.result, job.finished_at = ("done" if ok else "failed"), result, self.hl.now()
            if job.kind == "missed_call" and job.call_id and ok:
                call = uow.session.get(Call, job.call_id)
                if call is not None:
                    call.callback_done_at = self.hl.now()
            uow.commit()

    def count_waiting(self) -> int:
        with self.hl.uow(readonly=True) as uow:
            return uow.session.scalar(
                select(func.count()).select_from(Call).where(
                    Call.direction == "in", Call.ended_at.is_(None), Call.answered_at.is_(None),
                    Call.queued_at.is_not(None),
                )
            )  # fmt: skip
