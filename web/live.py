"""Live push: domain events from the bus to the screens that may see them, over Socket.IO.

Rooms
    ``unit:<id>``   the users of a member unit (and the experts of a desk, which is a unit too)
    ``user:<id>``   one person (screen-pop, their own tickets, their seat state)
    ``role:<name>`` everybody of a role (the center's supervisors and managers see every ticket)

What is pushed is a light notification (ticket id, number, action, status, event id) and never a
caller's name or number: the screen fetches the ticket through the API, which applies the viewer's
privacy rules. A ticket event reaches the units that hold the ticket (``unit_ids``), the expert desk
it was transferred to, the operator who accepted it and the center roles; a unit that lost the
ticket (return, re-dispatch) gets only ``ticket_removed`` with the id.

Reconnect: after connecting, a client asks ``hello`` for the newest event id; a client that reconnects
asks ``catchup`` with the last id it had (or calls ``GET /api/v1/events?after=``) and re-loads its
lists, so nothing is missed.

Several web processes share the pushes through Socket.IO's message queue (Redis); each process
forwards only the events of its own bus, so each event is pushed once. A process without a web app
(the SIP bridge, the scheduler) can push too, with ``attach_emitter(hl, redis_url)``.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any, Callable

from flask import current_app
from flask_socketio import join_room

from hotline.events import (
    CallAssigned,
    CallbackRecorded,
    CallEnded,
    CallOffered,
    CallQueued,
    OperatorStateChanged,
    TicketChanged,
)
from hotline.users import Actor, Role
from web import socketio
from web.auth import load_user

log = logging.getLogger(__name__)

# Roles that see every ticket and the call hall's figures.
CENTER_ROOMS = ("role:supervisor", "role:manager", "role:admin")
# A bus gets our handlers once, however many apps are built on it (tests build several).
_attached: "weakref.WeakSet[Any]" = weakref.WeakSet()


def rooms_for(user_id: int, role: str, unit_id: int | None) -> list[str]:
    """The rooms a user may join: their own, their role's and, for a unit or a desk, their unit's."""
    rooms = [f"user:{user_id}", f"role:{role}"]
    if role in (Role.UNIT, Role.EXPERT) and unit_id is not None:
        rooms.append(f"unit:{unit_id}")
    return rooms


def ticket_routes(ev: TicketChanged) -> tuple[list[str], list[str]]:
    """(rooms that get the ticket, rooms of units that lost it)."""
    to = [f"unit:{u}" for u in dict.fromkeys(ev.unit_ids)]
    if ev.expert_unit_id is not None:
        to.append(f"unit:{ev.expert_unit_id}")
    if ev.created_by_id is not None:
        to.append(f"user:{ev.created_by_id}")
    to += CENTER_ROOMS
    lost = [f"unit:{u}" for u in dict.fromkeys(ev.previous_unit_ids) if u not in ev.unit_ids]
    # An expert desk that handed the ticket back drops it at once on every screen of the desk.
    if ev.previous_expert_unit_id is not None and ev.previous_expert_unit_id != ev.expert_unit_id:
        lost.append(f"unit:{ev.previous_expert_unit_id}")
    return to, lost


def _ticket_payload(ev: TicketChanged) -> dict[str, Any]:
    return {
        "ticket_id": ev.ticket_id, "number": ev.number, "action": ev.action, "status": ev.status,
        "event_id": ev.event_id, "at": ev.at.isoformat(), "unit_ids": list(ev.unit_ids),
    }  # fmt: skip


def make_forwarder(emit: Callable[..., Any]) -> dict[type, Callable[[Any], None]]:
    """Bus handlers that push through ``emit(event, data, to=rooms)`` (a SocketIO or a write-only
    manager)."""

    def on_ticket(ev: TicketChanged) -> None:
        to, lost = ticket_routes(ev)
        emit("ticket", _ticket_payload(ev), to=to)
        if lost:
            emit("ticket_removed", {"ticket_id": ev.ticket_id, "event_id": ev.event_id}, to=lost)

    def on_assigned(ev: CallAssigned) -> None:
        # The number is not in the push: the console fetches the pop from /workbench/calls/<id>/pop.
        emit("call_pop", {"call_id": ev.call_id, "at": ev.at.isoformat()}, to=f"user:{ev.operator_id}")
        emit("calls", {"type": "assigned", "call_id": ev.call_id}, to=list(CENTER_ROOMS))

    def on_offered(ev: CallOffered) -> None:
        emit("calls", {"type": "offered", "call_id": ev.call_id, "line": ev.line}, to=list(CENTER_ROOMS))

    def on_queued(ev: CallQueued) -> None:
        emit("calls", {"type": "queued", "call_id": ev.call_id}, to=list(CENTER_ROOMS))

    def on_ended(ev: CallEnded) -> None:
        to = list(CENTER_ROOMS) + ([f"user:{ev.operator_id}"] if ev.operator_id else [])
        emit("call_ended", {"call_id": ev.call_id, "outcome": ev.outcome}, to=to)

    def on_state(ev: OperatorStateChanged) -> None:
        emit("operator_state", {"user_id": ev.user_id, "state": ev.state, "at": ev.at.isoformat()},
             to=[f"user:{ev.user_id}", *CENTER_ROOMS])  # fmt: skip

    def on_callback(ev: CallbackRecorded) -> None:
        emit("callback", {"callback_id": ev.callback_id, "ticket_id": ev.ticket_id}, to=list(CENTER_ROOMS))

    return {
        TicketChanged: on_ticket, CallAssigned: on_assigned, CallOffered: on_offered, CallQueued: on_queued,
        CallEnded: on_ended,
        OperatorStateChanged: on_state, CallbackRecorded: on_callback,
    }  # fmt: skip


def _subscribe(hl: Any, emit: Callable[..., Any]) -> None:
    if hl.bus in _attached:
        return
    for event_type, handler in make_forwarder(emit).items():
        hl.bus.subscribe(event_type, handler)
    _attached.add(hl.bus)


def _socketio_emit(event: str, data: Any, to: Any) -> None:
    socketio.emit(event, data, to=to)


def init_app(app: Any, hl: Any) -> None:
    """Forward this process's bus to Socket.IO (the app factory calls this)."""
    _subscribe(hl, _socketio_emit)


def attach_emitter(hl: Any, message_queue: str, channel: str | None = None) -> Any:
    """For a process without the web app (SIP bridge, scheduler): push its events to the browsers
    held by the web processes, through the shared message queue."""
    from flask_socketio import SocketIO

    emitter = SocketIO(message_queue=message_queue, channel=channel or hl.settings.socketio_channel)
    _subscribe(hl, lambda event, data, to: emitter.emit(event, data, to=to))
    return emitter


def attach_from_settings(hl: Any) -> Any | None:
    """For ``run.py sip`` / ``run.py scheduler``: forward this process's events to the browsers when
    ``HOTLINE_MESSAGE_QUEUE`` is set; without it they reach only this process's own screens."""
    if not hl.settings.message_queue:
        log.info("no HOTLINE_MESSAGE_QUEUE: this process's events stay in this process")
        return None
    try:
        return attach_emitter(hl, hl.settings.message_queue)
    except Exception:  # noqa: BLE001 - calls and jobs work without live push
        log.exception("live push forwarding not attached")
        return None


# ---------------------------------------------------------------------- the socket side
@socketio.on("connect")
def on_connect(auth: Any = None) -> bool:
    """Authenticate from the Flask session (or a bearer token) and join only the user's rooms."""
    try:
        user = load_user()
    except Exception:  # an invalid token raises AuthError
        user = None
    if user is None or not user.active:
        return False
    for room in rooms_for(user.id, user.role, user.unit_id):
        join_room(room)
    return True


@socketio.on("hello")
def on_hello(data: Any = None) -> dict[str, Any]:
    """Who am I and the newest event id, read after the rooms were joined: whatever commits after
    this read is pushed, whatever committed before is in what the screen loads next."""
    user = load_user()
    if user is None:
        return {"error": "unauthorized"}
    hl = current_app.extensions["hotline"]
    return {"user_id": user.id, "role": user.role, "unit_id": user.unit_id, "rooms": rooms_for(user.id, user.role, user.unit_id),
            "last_event_id": hl.queries.last_event_id()}  # fmt: skip


@socketio.on("catchup")
def on_catchup(data: Any = None) -> dict[str, Any]:
    """What the client missed while it was away: ticket events it may see after ``after``."""
    user = load_user()
    if user is None:
        return {"error": "unauthorized", "items": []}
    try:
        after = max(0, int((data or {}).get("after") or 0))
    except (TypeError, ValueError, AttributeError):
        after = 0
    hl = current_app.extensions["hotline"]
    items = hl.queries.events_since(Actor.of(user), after, 500)
    slim = [{"event_id": e["id"], "ticket_id": e["ticket_id"], "number": e["number"], "action": e["action"],
             "status": e["to_status"], "at": e["at"]} for e in items]  # fmt: skip
    last = items[-1]["id"] if items else max(after, 0)
    return {"items": slim, "last_id": last, "more": len(items) == 500}
