"""What the bridge needs from the hotline core, as small protocols.

The bridge never imports ``hotline``; :mod:`telephony.hotline_adapter` maps these onto the core and
:mod:`telephony.memory` implements them in memory (or in a JSON-lines journal) for tests.

Outcomes (``CallLog.ended``): ``answered`` (a person took it), ``abandoned`` (caller hung up while
ringing or queued), ``voicemail``, ``self_service`` (menu answered it, e.g. ticket status),
``refused`` (488/503: the bridge could not take it), ``interrupted`` (bridge died mid-call),
``failed`` (a SIP/media error). Outbound calls end ``answered``/``busy``/``no_answer``/``failed``.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

INBOUND_OUTCOMES = ("answered", "abandoned", "voicemail", "self_service", "refused",
                    "interrupted", "failed")
OUTBOUND_OUTCOMES = ("answered", "busy", "no_answer", "failed", "interrupted")


@runtime_checkable
class CallLog(Protocol):
    """Every call, written as it progresses (a SIGKILL loses nothing already said)."""

    def offered(self, caller: str, line: str, bridge_id: str, sip_call_id: str) -> int:
        """An INVITE arrived. Returns the call record id."""

    def queued(self, call_id: int) -> None:
        """The caller entered the operator queue (wait time runs from here)."""

    def ringing(self, call_id: int, operator_id: int) -> None:
        """The bridge is ringing this operator for the call: pop the caller onto their screen."""

    def unassigned(self, call_id: int, operator_id: int) -> None:
        """The operator rang for ``operator_ring_seconds`` and did not pick up (skipped)."""

    def answered(self, call_id: int, operator_id: int) -> None:
        """An operator picked up (answered by a person)."""

    def expert_joined(self, call_id: int, expert_id: int) -> None:
        """An expert desk joined the call (三方通话)."""

    def ended(self, call_id: int, outcome: str, ticket_id: int | None = None,
              recording_path: str | None = None) -> None:
        """The call is over. ``outcome`` is one of :data:`INBOUND_OUTCOMES`."""

    def close_interrupted(self, bridge_id: str) -> int:
        """Close every open call of ``bridge_id`` as ``interrupted``; returns how many."""

    def outbound(self, number: str, purpose: str, bridge_id: str, sip_call_id: str,
                 operator_id: int | None = None) -> int:
        """An outbound call (callback, survey) starts. Returns the call record id."""


@runtime_checkable
class OperatorDirectory(Protocol):
    def next_available(self, exclude: frozenset[int] = frozenset()) -> tuple[int, str] | None:
        """The longest-idle available operator not in ``exclude``: ``(operator_id, sip_uri)``."""

    def mark_busy(self, operator_id: int) -> None: ...

    def mark_available(self, operator_id: int) -> None:
        """The operator is free again (idle time restarts now)."""

    def sip_uri(self, operator_id: int) -> str | None: ...

    def expert_for(self, desk: str) -> tuple[int, str] | None:
        """Claim a free expert of a desk (legal, social insurance, medical insurance, enterprise;
        the core may name desks by unit code or id): ``(expert_id, sip_uri)``. Released with
        :meth:`mark_available` when the expert's leg ends."""


@runtime_checkable
class TicketDesk(Protocol):
    def status_by_number(self, number: str) -> str | None:
        """Short status code of a ticket for read-back (accepted, dispatched, in_progress,
        replied, closed, ...), or None when no such ticket."""

    def open_voicemail_ticket(self, call_id: int, caller: str, wav_path: str) -> int:
        """Open a ticket holding the recorded message; returns the ticket id."""


@dataclasses.dataclass
class OutboundJob:
    job_id: int
    number: str
    prompt: str = "survey"  # prompt name (telephony/prompts/<name>.wav) or a WAV path
    max_digits: int = 1
    digit_timeout: float = 8.0
    ring_timeout: float = 30.0
    purpose: str = "survey"  # survey | missed_call
    operator_id: int | None = None  # missed_call: the operator to connect the citizen to
    call_id: int | None = None  # missed_call: the abandoned call being returned


@dataclasses.dataclass
class OutboundResult:
    outcome: str  # answered | busy | no_answer | failed
    digits: str = ""
    call_id: int | None = None
    detail: str = ""


@runtime_checkable
class OutboundJobs(Protocol):
    def claim(self, bridge_id: str, limit: int) -> list[OutboundJob]:
        """Atomically take up to ``limit`` due jobs for this bridge."""

    def report(self, job_id: int, result: OutboundResult) -> None: ...


@dataclasses.dataclass
class Ports:
    calls: CallLog
    operators: OperatorDirectory
    tickets: TicketDesk
    jobs: OutboundJobs | None = None
