"""The bridge's ports mapped onto the hotline core (``hotline.app.Hotline``).

    from hotline.app import Hotline
    from telephony.bridge import start_bridge
    from telephony.config import SipConfig
    from telephony.hotline_adapter import hotline_ports

    hl = Hotline.from_env()
    handle = start_bridge(SipConfig.from_env(), hotline_ports(hl))
    ...
    handle.stop()

Every method is one short core transaction, so a bridge killed mid-call leaves the record as far as
it got, and ``close_interrupted`` closes it at the next start. Core errors never reach a call:
they are logged (the call goes on) – a phone call must not drop because a write failed.
"""
from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Callable

from .ports import SATISFACTION_QUESTIONS, OutboundJob, OutboundResult, Ports

if TYPE_CHECKING:
    from hotline.app import Hotline

log = logging.getLogger(__name__)

# Ticket statuses of the core -> the prompt read back (telephony/prompts/status_<name>.wav)
STATUS_PROMPTS = {
    "accepted": "accepted", "dispatched": "dispatched", "returned": "returned", "signed": "in_progress",
    "replied": "replied", "reviewed": "reviewed", "closed": "closed", "rejected": "rejected",
    "merged": "merged",
}


def _safe(default: Any = None) -> Callable:
    def deco(fn: Callable) -> Callable:
        def wrapper(self: Any, *a: Any, **kw: Any) -> Any:
            try:
                return fn(self, *a, **kw)
            except Exception:
                log.exception("hotline core call %s failed", fn.__name__)
                return default
        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper
    return deco


class HotlineCallLog:
    def __init__(self, hl: "Hotline"):
        self.hl = hl

    def offered(self, caller: str, line: str, bridge_id: str, sip_call_id: str) -> int:
        # not guarded: without a record id the bridge refuses the call rather than lose it
        return self.hl.calls.offered(caller, line, bridge_id=bridge_id, sip_call_id=sip_call_id)

    @_safe()
    def queued(self, call_id: int) -> None:
        self.hl.calls.queued(call_id)

    @_safe()
    def ringing(self, call_id: int, operator_id: int) -> None:
        self.hl.calls.assign(call_id, operator_id)  # CallAssigned -> the console's screen-pop

    @_safe()
    def unassigned(self, call_id: int, operator_id: int) -> None:
        self.hl.calls.unassign(call_id, operator_id)

    @_safe()
    def answered(self, call_id: int, operator_id: int) -> None:
        self.hl.calls.answered(call_id, operator_id)

    @_safe()
    def expert_joined(self, call_id: int, expert_id: int) -> None:
        self.hl.calls.expert_joined(call_id, expert_id)

    @_safe()
    def ended(self, call_id: int, outcome: str, ticket_id: int | None = None,
              recording_path: str | None = None) -> None:
        if ticket_id is not None:
            self.hl.calls.attach_ticket(call_id, ticket_id)
        self.hl.calls.ended(call_id, outcome, recording_path)

    def close_interrupted(self, bridge_id: str) -> int:
        return self.hl.calls.close_interrupted(bridge_id)

    def outbound(self, number: str, purpose: str, bridge_id: str, sip_call_id: str,
                 operator_id: int | None = None, line: str = "12345") -> int:
        # ``line``: the hotline line the call is placed from; ``purpose``: why (its own column).
        # The operator of a call-back is recorded by ``ringing`` (calls.assign: the screen-pop).
        # A SIP URI target (sip:13812345678@gw) is recorded by its user part, the number.
        m = re.match(r"(?:sips?|tel):([^@;]+)", number or "")
        return self.hl.calls.offered(m.group(1) if m else number, line, bridge_id=bridge_id,
                                     sip_call_id=sip_call_id, direction="out", purpose=purpose)


class HotlineOperators:
    def __init__(self, hl: "Hotline"):
        self.hl = hl

    def next_available(self, exclude: frozenset[int] = frozenset()) -> tuple[int, str] | None:
        # The core claims the operator (available -> on_call) atomically, so two bridges never
        # ring the same person. A skipped operator is set "away" by calls.unassign, so ``exclude``
        # rarely matters; if the claim hits one anyway, give them back and wait for the next round.
        got = self.hl.calls.next_available()
        if got is None:
            return None
        operator_id, uri = got
        if operator_id in exclude or not uri:
            if not uri:
                log.warning("operator %s has no SIP URI: set to away", operator_id)
            self._set(operator_id, "available" if uri else "away")
            return None
        return operator_id, uri

    def _state(self, operator_id: int):
        from hotline.calls import OperatorState
        with self.hl.uow(readonly=True) as uow:
            return uow.session.get(OperatorState, operator_id)

    def _set(self, operator_id: int, status: str) -> None:
        from hotline.users import Actor
        self.hl.calls.set_state(Actor.system(), operator_id, status)

    @_safe()
    def mark_busy(self, operator_id: int) -> bool:
        st = self._state(operator_id)
        if st is not None and st.current_call_id is not None:
            return False  # talking, or their phone rings for a queued caller
        if st is not None and st.status != "on_call":
            self._set(operator_id, "on_call")  # click-to-call-back by an operator
        return True

    @_safe()
    def mark_available(self, operator_id: int) -> None:
        # After a call the core puts the operator in wrap-up, after a skip "away": leave those.
        # Only a claim that never became a call (the caller left first) is released here.
        st = self._state(operator_id)
        if st is not None and st.status == "on_call" and st.current_call_id is None:
            self._set(operator_id, "available")

    @_safe()
    def sip_uri(self, operator_id: int) -> str | None:
        u = self.hl.directory.user(operator_id)
        return u.sip_uri if u is not None else None

    @_safe()
    def expert_for(self, desk: str | int) -> tuple[int, str] | None:
        """``desk`` is an expert-desk unit's id (``int``, from an ``expert_join`` job) or code (E01)."""
        if isinstance(desk, int):
            unit_id: int | None = desk
        else:
            unit = self.hl.directory.unit_by_code(desk)
            unit_id = unit.id if unit is not None else (int(desk) if str(desk).isdigit() else None)
        if unit_id is None:
            return None
        got = self.hl.calls.next_available(role="expert", unit_id=unit_id)
        if got is None or not got[1]:
            if got is not None:
                self._set(got[0], "available")
            return None
        return got[0], got[1]


class HotlineTickets:
    def __init__(self, hl: "Hotline"):
        self.hl = hl

    @staticmethod
    def _number(keyed: str) -> str:
        """Digits keyed on a phone -> the core's ticket number (20261122-00017)."""
        digits = re.sub(r"\D", "", keyed)
        return f"{digits[:8]}-{digits[8:]}" if len(digits) > 8 else digits

    @_safe()
    def status_by_number(self, number: str) -> str | None:
        from sqlalchemy import select

        from hotline.tickets import Ticket
        with self.hl.uow(readonly=True) as uow:
            status = uow.session.scalar(select(Ticket.status).where(
                Ticket.number.in_([number, self._number(number)])))
        return None if status is None else STATUS_PROMPTS.get(status, "unknown")

    def open_voicemail_ticket(self, call_id: int, caller: str, wav_path: str) -> int:
        from hotline.users import Actor
        phone = caller if caller and re.fullmatch(r"\+?\d{5,20}", caller) else None
        t = self.hl.tickets.accept(
            Actor.system(), content=f"12345热线电话留言，请收听录音后补充诉求内容。录音文件：{wav_path}",
            title="电话留言（待听录音）", caller_phone=phone, call_id=call_id)
        return t.id


class HotlineOutboundJobs:
    def __init__(self, hl: "Hotline"):
        self.hl = hl

    def claim(self, bridge_id: str, limit: int) -> list[OutboundJob]:
        # Only the number travels to the bridge (never the caller's name: a confidential caller is
        # called, never named).
        out = []
        for job in self.hl.calls.claim_outbound(bridge_id, limit):
            if job.kind == "missed_call":
                out.append(OutboundJob(job.id, job.number, purpose="missed_call",
                                       operator_id=job.operator_id, call_id=job.call_id))
            elif job.kind == "expert_join":  # claim_outbound routes it to the call's bridge
                out.append(OutboundJob(job.id, "", purpose="expert_join", call_id=job.call_id,
                                       desk=job.unit_id, operator_id=job.operator_id))
            elif job.kind == "satisfaction":
                # 1 satisfied / 2 basically / 3 not satisfied, then 1 solved / 2 not solved:
                # reported as "12" (scheduler.callbacks.parse_result)
                out.append(OutboundJob(job.id, job.number, purpose="satisfaction",
                                       questions=SATISFACTION_QUESTIONS))
            else:
                out.append(OutboundJob(job.id, job.number, prompt="survey", max_digits=1,
                                       purpose=job.kind[:20]))
        return out

    @_safe()
    def report(self, job_id: int, result: OutboundResult) -> None:
        data = {"outcome": result.outcome, "digits": result.digits, "call_id": result.call_id,
                "detail": result.detail}
        if result.expert_id is not None:
            data["expert_id"] = result.expert_id
        self.hl.calls.finish_outbound(job_id, data, ok=result.outcome == "answered")


def hotline_ports(hl: "Hotline") -> Ports:
    return Ports(HotlineCallLog(hl), HotlineOperators(hl), HotlineTickets(hl), HotlineOutboundJobs(hl))
