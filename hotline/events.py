"""Domain events and the in-process message bus.

Services collect events while they work and publish them only after the transaction commits, so a
subscriber (websocket push, scheduler, SIP bridge) never sees a change that was rolled back.
Cross-process delivery is the subscriber's business: the web layer forwards events through
Socket.IO's Redis message queue, so a bus in a SIP process reaches browsers held by a web process.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections import defaultdict
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Event:
    def as_dict(self) -> dict[str, Any]:
        out = {"type": type(self).__name__}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.isoformat() if isinstance(v, (dt.datetime, dt.date)) else v
        return out


@dataclasses.dataclass(frozen=True)
class TicketChanged(Event):
    """Any change to a ticket. ``action`` names the workflow step (accept, dispatch, sign, ...).

    ``unit_ids`` lists every unit that may see the ticket after the change (lead and co-handling),
    ``previous_unit_ids`` those that could see it before, so a unit that lost a ticket (returned,
    re-dispatched) can drop it from its screen.
    """

    ticket_id: int
    number: str
    action: str
    status: str
    event_id: int
    at: dt.datetime
    actor_id: int | None
    unit_ids: tuple[int, ...] = ()
    previous_unit_ids: tuple[int, ...] = ()
    expert_unit_id: int | None = None
    created_by_id: int | None = None
    previous_expert_unit_id: int | None = None


@dataclasses.dataclass(frozen=True)
class CallOffered(Event):
    call_id: int
    line: str
    at: dt.datetime


@dataclasses.dataclass(frozen=True)
class CallQueued(Event):
    """The caller now waits for a person (after greeting and menu): the call hall's queue grew."""

    call_id: int
    at: dt.datetime


@dataclasses.dataclass(frozen=True)
class CallAssigned(Event):
    """The bridge chose an operator for a waiting call: their console pops the caller."""

    call_id: int
    operator_id: int
    caller_id: int | None
    at: dt.datetime


@dataclasses.dataclass(frozen=True)
class CallEnded(Event):
    call_id: int
    outcome: str
    operator_id: int | None
    at: dt.datetime


@dataclasses.dataclass(frozen=True)
class OperatorStateChanged(Event):
    user_id: int
    state: str
    at: dt.datetime


@dataclasses.dataclass(frozen=True)
class CallbackRecorded(Event):
    callback_id: int
    ticket_id: int
    satisfaction: str | None
    at: dt.datetime


Handler = Callable[[Event], None]


class MessageBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event_type: type, handler: Handler) -> None:
        with self._lock:
            self._handlers[event_type].append(handler)

    def unsubscribe(self, event_type: type, handler: Handler) -> None:
        with self._lock:
            if handler in self._handlers[event_type]:
                self._handlers[event_type].remove(handler)

    def publish(self, events: list[Event]) -> None:
        for event in events:
            with self._lock:
                handlers = [h for t, hs in self._handlers.items() if isinstance(event, t) for h in hs]
            for handler in handlers:
                try:
                    handler(event)
                except Exception:  # a failing subscriber must not undo a committed change
                    log.exception("event handler %r failed on %s", handler, type(event).__name__)
