"""Open311 GeoReport v2 at /open311/v2, so a city's existing Open311 clients work unchanged.

Services are the member units a citizen can address; a request is a ticket. Reads are public as
the standard expects, so they never carry the caller, and a confidential ticket's description is
withheld; phone numbers inside a description are masked. POST needs an ``api_key`` (an API token of
a user allowed to accept tickets) and creates a ticket from the web channel.
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hotline.privacy import mask_deep, mask_phones_in
from hotline.errors import AuthError, InvalidInput, NotFound
from hotline.tickets import FINISHED, STATUS_LABELS, Status, Ticket
from hotline.units import UNIT_KIND_LABELS, Unit, UnitKind
from hotline.users import Actor
from web.auth import hotline

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

MAX_RESULTS = 1000
MAX_PAGE = 100_000


def _positive(name: str, default: int) -> int:
    """A positive integer query value ("1e25", "-1", "abc" and 20-digit numbers are a 400)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise InvalidInput(f"{name} must be a positive integer", field=name)
    return int(raw)


def _tz() -> ZoneInfo:
    return ZoneInfo(hotline().settings.timezone)


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=_tz()).isoformat() if value else None


def _parse_time(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    if "T" in raw:
        raw = raw.replace(" ", "+")  # an unencoded "+08:00" arrives as " 08:00" from naive clients
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be ISO 8601 (e.g. 2026-11-22T08:00:00+08:00)", field=name) from None
    if value.tzinfo is not None:
        value = value.astimezone(_tz()).replace(tzinfo=None)
    return value


def _public_status(t: Ticket) -> str:
    if t.status == Status.MERGED and t.master is not None:
        return "closed" if t.master.status in FINISHED else "open"
    return "closed" if t.status in FINISHED else "open"


def request_view(t: Ticket) -> dict[str, Any]:
    unit = t.unit or t.suggested_unit
    notes = STATUS_LABELS[Status(t.status)]
    if t.status == Status.CLOSED and t.outcome:
        notes += "：" + mask_phones_in(t.outcome)
    elif t.status == Status.MERGED and t.master is not None:
        notes += f"（主案 {t.master.number}）"
    # The public sees what a unit sees at most: every text with its numbers masked.
    return mask_deep({
        "service_request_id": t.number,
        "status": _public_status(t),
        "status_notes": notes,
        "service_name": unit.name if unit else None,
        "service_code": unit.code if unit else None,
        "description": None if t.confidential else mask_phones_in(t.content),
        "agency_responsible": t.unit.name if t.unit else None,
        "service_notice": None,
        "requested_datetime": _iso(t.accepted_at),
        "updated_datetime": _iso(t.updated_at),
        "expected_datetime": _iso(t.due_at),
        "address": None if t.confidential else mask_phones_in(t.address),
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    })


def _fmt_guard() -> None:
    if request.view_args and request.view_args.get("fmt", "json") != "json":
        raise InvalidInput("only the .json format is served", field="format")


@bp.get("/services.<fmt>")
def services(fmt: str):  # noqa: ANN201
    _fmt_guard()
    out = []
    for u in hotline().directory.units():
        if u.kind == UnitKind.EXPERT_DESK:
            continue
        out.append({
            "service_code": u.code, "service_name": u.name, "description": f"{u.name}受理的诉求",
            "metadata": False, "type": "realtime", "keywords": u.area or "",
            "group": UNIT_KIND_LABELS.get(UnitKind(u.kind), u.kind),
        })  # fmt: skip
    return jsonify(out)


def _query():  # noqa: ANN202
    return select(Ticket).options(
        selectinload(Ticket.unit), selectinload(Ticket.suggested_unit), selectinload(Ticket.master)
    )


@bp.get("/requests.<fmt>")
def list_requests(fmt: str):  # noqa: ANN201
    _fmt_guard()
    hl = hotline()
    q = _query()
    ids = [x.strip() for x in (request.args.get("service_request_id") or "").split(",") if x.strip()]
    if ids:
        q = q.where(Ticket.number.in_(ids[:MAX_RESULTS]))
    else:
        start, end = _parse_time("start_date"), _parse_time("end_date")
        if start and end and start > end:
            raise InvalidInput("start_date must not be after end_date", field="start_date")
        # The standard's default window: the last 90 days.
        if start is None:
            start = (end or hl.now()) - dt.timedelta(days=90)
        q = q.where(Ticket.accepted_at >= start)
        if end is not None:
            q = q.where(Ticket.accepted_at <= end)
        codes = [c for c in (request.args.get("service_code") or "").split(",") if c]
        if codes:
            unit_ids = select(Unit.id).where(Unit.code.in_(codes))
            q = q.where(Ticket.unit_id.in_(unit_ids) | Ticket.suggested_unit_id.in_(unit_ids))
        status = request.args.get("status")
        if status:
            wanted = {x.strip() for x in status.split(",")}
            if not wanted <= {"open", "closed"}:
                raise InvalidInput("status must be open or closed", field="status")
            if wanted == {"open"}:
                q = q.where(Ticket.status.not_in(FINISHED))
            elif wanted == {"closed"}:
                q = q.where(Ticket.status.in_(FINISHED))
    per_page = min(_positive("per_page", 50), MAX_RESULTS)
    page = _positive("page", 1)
    if page > MAX_PAGE:
        raise InvalidInput(f"page must be at most {MAX_PAGE}", field="page")
    with hl.uow(readonly=True) as uow:
        rows = uow.session.scalars(q.order_by(Ticket.accepted_at.desc(), Ticket.id.desc())
                                   .offset((page - 1) * per_page).limit(per_page)).all()  # fmt: skip
        return jsonify([request_view(t) for t in rows])


@bp.get("/requests/<request_id>.<fmt>")
def get_request(request_id: str, fmt: str):  # noqa: ANN201
    _fmt_guard()
    with hotline().uow(readonly=True) as uow:
        t = uow.session.scalar(_query().where(Ticket.number == request_id))
        if t is None:
            raise NotFound("no such service request", service_request_id=request_id)
        return jsonify([request_view(t)])


@bp.post("/requests.<fmt>")
def create_request(fmt: str):  # noqa: ANN201
    _fmt_guard()
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict):
        raise InvalidInput("body must be form-encoded or a JSON object")
    key = data.get("api_key") or request.args.get("api_key")
    if not key:
        raise AuthError("api_key is required to submit a request")
    hl = hotline()
    user = hl.directory.user_for_token(str(key))
    code = str(data.get("service_code") or "").strip()
    if not code:
        raise InvalidInput("service_code is required", field="service_code")
    unit = hl.directory.unit_by_code(code)
    if unit is None or not unit.active or unit.kind == UnitKind.EXPERT_DESK:
        raise InvalidInput(f"unknown service_code {code!r}", field="service_code")
    description = str(data.get("description") or "").strip()
    if not description:
        raise InvalidInput("description is required", field="description")
    name = " ".join(x for x in (str(data.get("last_name") or ""), str(data.get("first_name") or "")) if x).strip()
    ticket = hl.tickets.accept(
        Actor.of(user),
        content=description[:20000],
        channel="web",
        type="help",
        caller_phone=str(data["phone"]) if data.get("phone") else None,
        caller_name=name or None,
        address=str(data.get("address_string") or "")[:255] or None,
        chosen_unit_id=unit.id,
    )
    notice = f"您的诉求已受理，工单编号 {ticket.number}，我们将在规定时限内办理并回复。"
    return jsonify([{"service_request_id": ticket.number, "service_notice": notice, "account_id": None}]), 201
