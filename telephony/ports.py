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
                 operator_id: int | None = None, line: str = "12345") -> int:
        """An outbound call starts. ``purpose`` says why (``satisfaction``, ``missed_call``, ...);
        ``line`` is the hotline line it is placed from. Returns the call record id."""


@runtime_checkable
class OperatorDirectory(Protocol):
    def next_available(self, exclude: frozenset[int] = frozenset()) -> tuple[int, str] | None:
        """The longest-idle available operator not in ``exclude``: ``(operator_id, sip_uri)``."""

    def mark_busy(self, operator_id: int) -> bool | None:
        """The operator is taken for a call. ``False``: they are already on another call (or
        ringing for one), so a click-to-call-back must not ring them."""

    def mark_available(self, operator_id: int) -> None:
        """The operator is free again (idle time restarts now)."""

    def sip_uri(self, operator_id: int) -> str | None: ...

    def expert_for(self, desk: str | int) -> tuple[int, str] | None:
        """Claim a free expert of a desk (legal, social insurance, medical insurance, enterprise):
        ``desk`` is the desk's unit id (an ``int``, as an ``expert_join`` job carries it) or its
        code/name (a ``str``). Returns ``(expert_id, sip_uri)``; released with
        :meth:`mark_available` when the expert's leg ends or they do not pick up."""


@runtime_checkable
class TicketDesk(Protocol):
    def status_by_number(self, number: str) -> str | None:
        """Short status code of a ticket for read-back (accepted, dispatched, in_progress,
        replied, closed, ...), or None when no such ticket."""

    def open_voicemail_ticket(self, call_id: int, caller: str, wav_path: str) -> int:
        """Open a ticket holding the recorded message; returns the ticket id."""


# The satisfaction callback (回访): one digit per question, in this order. The digits are reported
# concatenated ("12": satisfied, solved), as scheduler/callbacks.py's parse_result reads them.
SATISFACTION_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("survey", "123"),  # 满意请按1，基本满意请按2，不满意请按3
    ("survey_solved", "12"),  # 问题已解决请按1，未解决请按2
)


@dataclasses.dataclass
class OutboundJob:
    job_id: int
    number: str  # the number (or SIP URI) to dial; nothing else about the citizen travels
    prompt: str = "survey"  # prompt name (telephony/prompts/<name>.wav) or a WAV path
    max_digits: int = 1
    digit_timeout: float = 8.0  # after each prompt ends
    ring_timeout: float = 30.0
    purpose: str = "survey"  # satisfaction | survey | missed_call | expert_join
    operator_id: int | None = None  # missed_call: the operator to connect the citizen to
    call_id: int | None = None  # missed_call: the abandoned call; expert_join: the live call
    # A survey of several questions, one valid digit each: ((prompt, valid digits), ...). Empty:
    # play ``prompt`` once and collect up to ``max_digits`` digits.
    questions: tuple[tuple[str, str], ...] = ()
    desk: int | str | None = None  # expert_join: the expert desk (unit id)


@dataclasses.dataclass
class OutboundResult:
    outcome: str  # answered | busy | no_answer | failed
    digits: str = ""
    call_id: int | None = None
    detail: str = ""
    expert_id: int | None = None  # expert_join: who joined


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
