"""The JSON Schemas of the API's answers, for the OpenAPI document: what a client may rely on (the
fields every answer carries and their types), checked by the schemathesis run in the test suite.
Objects allow more properties than they list, so adding a field never breaks a client."""
from __future__ import annotations

from typing import Any

S: dict[str, Any] = {"type": "string"}
I: dict[str, Any] = {"type": "integer"}
B: dict[str, Any] = {"type": "boolean"}
NUM: dict[str, Any] = {"type": "number"}
ANY_OBJ: dict[str, Any] = {"type": "object"}


def null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})},
            "additionalProperties": True}  # fmt: skip


def items(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return obj({"items": {"type": "array", "items": schema}, **extra})


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


NS, NI, NB = null(S), null(I), null(B)
REF = obj({"id": I, "name": S})

SCHEMAS: dict[str, dict[str, Any]] = {
    "Ok": obj({"ok": B}),
    "Unit": obj({"id": I, "code": S, "name": S, "kind": S, "kind_label": S, "parent_id": NI, "area": NS, "active": B}),
    "User": obj({"id": I, "username": S, "display_name": S, "role": S, "role_label": S, "unit_id": NI, "unit_name": NS,
                 "active": B}),
    "Caller": obj({"id": NI, "name": NS, "phone": NS}),
    "Ticket": obj({
        "id": I, "number": S, "version": I, "status": S, "status_label": S, "type": S, "urgency": S, "channel": S,
        "line": NS, "green_channel": B, "confidential": B, "caller": null(ref("Caller")), "area": NS, "address": NS,
        "title": NS, "content": S, "unit": null(REF), "co_units": {"type": "array", "items": ANY_OBJ},
        "expert_unit": null(REF), "master_id": NI, "suggestion": null(ANY_OBJ), "accepted_at": S,
        "dispatched_at": NS, "closed_at": NS, "due_at": NS, "light": null({"enum": ["green", "yellow", "red"]}),
        "overdue": B, "pending_extension": null(ANY_OBJ), "press_count": I, "return_count": I, "reopen_count": I,
        "outcome": NS, "satisfaction": NS,
    }, {"children": {"type": "array", "items": obj({"id": I, "number": S, "status": S})}, "master_number": NS,
        "events": {"type": "array", "items": ref("TicketEvent")}}),  # fmt: skip
    "TicketEvent": obj({"id": I, "ticket_id": I, "at": S, "actor_id": NI, "actor_role": S, "action": S,
                        "from_status": NS, "to_status": S, "note": NS, "before": null(ANY_OBJ), "after": null(ANY_OBJ)}),
    "TicketPage": obj({"items": {"type": "array", "items": ref("Ticket")}, "total": I, "page": I, "per_page": I}),
    "Callback": obj({"id": I, "ticket_id": I, "ticket_number": S, "round": I, "status": S, "due_at": S, "attempts": I,
                     "confidential": B, "phone": NS, "satisfaction": NS, "solved": NB, "note": NS}),
    "Login": obj({"user": ref("User"), "csrf_token": S}),
}

# Per route (method, path) the schema of its success answer.
ROUTE_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/units"): ref("Unit"),
    ("GET", "/units"): items(ref("Unit")),
    ("GET", "/units/{unit_id}"): ref("Unit"),
    ("GET", "/users"): items(ref("User")),
    ("POST", "/users"): ref("User"),
    ("PATCH", "/users/{user_id}"): ref("User"),
    ("POST", "/users/{user_id}/password"): ref("Ok"),
    ("POST", "/users/{user_id}/unlock"): obj({"ok": B, "username": S}),
    ("GET", "/calendar/overrides"): items(obj({"day": S, "is_workday": B, "note": NS})),
    ("PUT", "/calendar/overrides"): obj({"day": S, "is_workday": B, "note": NS}),
    ("GET", "/classifier/label-map"): obj({"mapping": {"type": "object", "additionalProperties": S}}),
    ("PUT", "/classifier/label-map"): obj({"mapping": {"type": "object", "additionalProperties": S}}),
    ("POST", "/auth/login"): ref("Login"),
    ("POST", "/auth/logout"): ref("Ok"),
    ("GET", "/auth/me"): ref("Login"),
    ("POST", "/auth/tokens"): obj({"token": S, "name": S}),
    ("GET", "/openapi.json"): obj({"openapi": S, "paths": ANY_OBJ}),
    ("GET", "/callers/{phone}/history"): obj({"caller": obj({"phone": S, "name": NS, "known": B}),
                                              "tickets": {"type": "array", "items": ref("Ticket")}}),  # fmt: skip
    ("GET", "/callbacks"): items(ref("Callback"), total=I, page=I),
    ("POST", "/callbacks/{callback_id}/result"): obj({"id": I, "status": S, "satisfaction": NS}),
    ("GET", "/knowledge"): items(obj({"id": I, "title": S, "body": S, "tags": NS, "unit_id": NI, "updated_at": S})),
    ("GET", "/events"): items(ref("TicketEvent"), last_id=I),
    ("GET", "/operators"): items(obj({"user_id": I, "name": S, "role": S})),
    ("POST", "/operators/me/state"): obj({"user_id": I, "status": S, "since": S}),
    ("POST", "/calls/{call_id}/expert"): obj({"job_id": I}),
    ("POST", "/calls/{call_id}/call-back"): obj({"job_id": I}),
    ("GET", "/calls/missed"): items(obj({"id": I, "number": NS, "line": NS, "offered_at": S, "wait_seconds": null(NUM)})),
    ("GET", "/tickets"): ref("TicketPage"),
    ("GET", "/inbox"): ref("TicketPage"),
    ("GET", "/tickets/{ticket_id}/events"): items(ref("TicketEvent")),
    ("GET", "/suggest"): obj({"unsure": B, "choices": {"type": "array", "items": ANY_OBJ}}),
    ("GET", "/tickets/similar"): items(obj({"id": I, "number": S, "title": NS, "status": S, "area": NS, "score": NUM})),
}


def success_schema(method: str, path: str, tag: str) -> dict[str, Any]:
    if (method, path) in ROUTE_SCHEMAS:
        return ROUTE_SCHEMAS[(method, path)]
    if path.startswith("/tickets"):  # a ticket read, created, amended or moved a step
        return ref("Ticket")
    raise KeyError(f"no response schema declared for {method} {path}")
