"""The managers' rates (DOMAIN.md "Rates"), computed with SQL aggregates for any day or date range,
for the whole center, per member unit and per operator, each as numerator / denominator.

A period is a range of local calendar days ``[start 00:00, end+1 00:00)``. Every figure is counted
from the records *as they stand when the report is computed*, choosing the tickets, calls or
callbacks by one timestamp in the period (the day-assignment rule given for each rate below). The
daily snapshot (``snapshot_day``, run at 00:10 for the day before) keeps the figures as they stood
then; ``recompute`` replaces a stored day with today's view of it.

Rates (value = numerator / denominator, ``None`` when the denominator is 0):

``connection_rate`` 接通率
    calls answered by a person / calls offered. Counts inbound calls (``calls.direction = 'in'``)
    by ``offered_at`` in the period; answered = ``answered_at`` set (an operator or expert took it).
    Every offered call is in the denominator (abandoned, voicemail, IVR self-service, refused,
    interrupted), as DOMAIN.md's formula says. Outbound calls never count.
``answered_in_15s_rate`` 15秒接通率
    inbound calls offered in the period and answered by a person with ``wait_seconds <= 15``
    / inbound calls offered in the period and answered by a person.
``completion_rate`` 办结率
    of the tickets accepted in the period (``accepted_at``; 不予受理 rejected tickets excluded, they
    were not 受理), those whose status is ``closed`` / all of them. Merged children count as tickets
    of their own (closed with their master).
``on_time_completion_rate`` 按时办结率
    tickets closed in the period (``status = 'closed'`` and ``closed_at`` in the period) with
    ``closed_on_time`` (the unit replied by its, possibly extended, deadline; closed at first
    contact is on time) / tickets closed in the period.
``callback_rate`` 回访率
    callbacks due in the period (``callbacks.due_at``; one per caller per ticket per round; a
    callback cancelled because the ticket was reopened before the call is no longer due) with a
    recorded result (``status = 'done'``, automatic or by hand) / callbacks due in the period.
``satisfaction_rate`` 满意率
    rated callbacks recorded in the period (``status = 'done'``, ``completed_at`` in the period,
    satisfaction given) answered satisfied 满意 or basically satisfied 基本满意 / rated callbacks
    recorded in the period.
``response_rate`` 响应率
    tickets dispatched in the period (``dispatched_at``: the latest dispatch, a re-dispatch moves
    it) signed within the signing limit (``signed_on_time``) / tickets dispatched in the period.
    A ticket still waiting to be signed counts in the denominator only.
``resolution_rate`` 解决率
    rated callbacks recorded in the period where the caller said the matter is solved
    (``solved`` true) / rated callbacks recorded in the period.
``first_contact_resolution_rate`` 直接办结率
    of the tickets accepted in the period (as for ``completion_rate``), those closed at first
    contact (``close_kind = 'first_contact'``) / all of them.

Per unit: a ticket belongs to its lead unit (``tickets.unit_id``, 主办) as it stands; a callback to
its ticket's lead unit. The call figures (connection, 15 s) and first-contact resolution belong to
the call hall, not to a unit: for a unit they are always 0/0 (value null). Tickets without a unit
(closed at first contact, rejected, waiting for dispatch) count for the center only.

Per operator (call hall figures): ``answered_in_15s_rate`` over the calls the operator answered
(``calls.operator_id``), ``first_contact_resolution_rate`` over the tickets the operator wrote
(``tickets.created_by_id``), plus ``calls_answered`` and ``tickets_accepted``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import Date, and_, cast, delete, func, select
from sqlalchemy.orm import Session

from hotline.callbacks import Callback
from hotline.calls import Call
from hotline.tickets import Ticket
from hotline.units import Unit, UnitKind
from hotline.users import User
from scheduler.models import RateSnapshot

if TYPE_CHECKING:
    from hotline.app import Hotline

RATES: tuple[str, ...] = (
    "connection_rate",
    "answered_in_15s_rate",
    "completion_rate",
    "on_time_completion_rate",
    "callback_rate",
    "satisfaction_rate",
    "response_rate",
    "resolution_rate",
    "first_contact_resolution_rate",
)

RATE_LABELS = {
    "connection_rate": "接通率",
    "answered_in_15s_rate": "15秒接通率",
    "completion_rate": "办结率",
    "on_time_completion_rate": "按时办结率",
    "callback_rate": "回访率",
    "satisfaction_rate": "满意率",
    "response_rate": "响应率",
    "resolution_rate": "解决率",
    "first_contact_resolution_rate": "直接办结率",
}

RATE_FORMULAS = {
    "connection_rate": ("人工接通量", "呼入量"),
    "answered_in_15s_rate": ("15秒内接通量", "人工接通量"),
    "completion_rate": ("已办结", "受理量"),
    "on_time_completion_rate": ("按时办结量", "办结量"),
    "callback_rate": ("已回访", "应回访"),
    "satisfaction_rate": ("满意+基本满意", "回访评价数"),
    "response_rate": ("按时签收", "派单量"),
    "resolution_rate": ("已解决", "回访评价数"),
    "first_contact_resolution_rate": ("直接办结量", "受理量"),
}

# Rates that are the call hall's, not a unit's.
CENTER_ONLY = ("connection_rate", "answered_in_15s_rate", "first_contact_resolution_rate")
OPERATOR_RATES = ("answered_in_15s_rate", "first_contact_resolution_rate")

# Unit ranking: Beijing's 三率 composite (响应率 10%, 解决率 45%, 满意率 45%); a rate with no
# denominator is left out and the other weights are scaled up.
RANKING_WEIGHTS = {"response_rate": 0.10, "resolution_rate": 0.45, "satisfaction_rate": 0.45}


@dataclasses.dataclass
class Fraction:
    numerator: int = 0
    denominator: int = 0

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def add(self, n: int, d: int) -> None:
        self.numerator += int(n or 0)
        self.denominator += int(d or 0)

    def as_dict(self) -> dict[str, Any]:
        return {"numerator": self.numerator, "denominator": self.denominator, "value": self.value}


def empty_rates(names: Iterable[str] = RATES) -> dict[str, Fraction]:
    return {name: Fraction() for name in names}


def rates_dict(rates: dict[str, Fraction]) -> dict[str, dict[str, Any]]:
    return {k: v.as_dict() for k, v in rates.items()}


def bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    if end < start:
        raise ValueError("end before start")
    return dt.datetime.combine(start, dt.time()), dt.datetime.combine(end + dt.timedelta(days=1), dt.time())


# --------------------------------------------------------------------------- the SQL
def _day(session: Session, col):  # noqa: ANN001, ANN202
    """The local calendar day of a timestamp column, for GROUP BY day."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(col)
    return cast(col, Date)


def _as_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


@dataclasses.dataclass
class Figures:
    """Aggregated figures keyed by group: ``(unit_id,)``, ``(day,)``, ``(day, unit_id)`` ..."""

    by_group: dict[tuple, dict[str, Fraction]]
    calls: dict[tuple, dict[str, Fraction]]


def _groups(session: Session, by_day: bool, by_unit: bool, unit_col, day_col):  # noqa: ANN001, ANN202
    cols = []
    if by_day:
        cols.append(_day(session, day_col).label("g_day"))
    if by_unit:
        cols.append(unit_col.label("g_unit"))
    return cols


def _key(row: Any, by_day: bool, by_unit: bool) -> tuple:
    k: list[Any] = []
    if by_day:
        k.append(_as_date(row.g_day))
    if by_unit:
        k.append(row.g_unit)
    return tuple(k)


def ticket_figures(
    session: Session, start: dt.date, end: dt.date, *, by_day: bool = False, by_unit: bool = True,
    unit_id: int | None = None,
) -> dict[tuple, dict[str, Fraction]]:  # fmt: skip
    """The six ticket and callback rates, grouped by unit and/or day. Five aggregate queries."""
    lo, hi = bounds(start, end)
    out: dict[tuple, dict[str, Fraction]] = {}

    def put(key: tuple, rate: str, n: int, d: int) -> None:
        out.setdefault(key, empty_rates())[rate].add(n, d)

    def run(q, day_col, unit_col=Ticket.unit_id):  # noqa: ANN001, ANN202
        g = _groups(session, by_day, by_unit, unit_col, day_col)
        if unit_id is not None:
            q = q.where(unit_col == unit_id)
        if g:
            q = q.add_columns(*g).group_by(*[c.element for c in g])
        return session.execute(q)

    closed, rejected = "closed", "rejected"
    # 1. accepted in the period: completion and first contact (cohort of the period's tickets)
    q = select(
        func.count().label("accepted"),
        func.count().filter(Ticket.status == closed).label("closed"),
        func.count().filter(and_(Ticket.status == closed, Ticket.close_kind == "first_contact")).label("fc"),
    ).where(Ticket.accepted_at >= lo, Ticket.accepted_at < hi, Ticket.status != rejected)
    for r in run(q, Ticket.accepted_at):
        k = _key(r, by_day, by_unit)
        put(k, "completion_rate", r.closed, r.accepted)
        put(k, "first_contact_resolution_rate", r.fc, r.accepted)
    # 2. closed in the period: on time
    q = select(
        func.count().label("closed"),
        func.count().filter(Ticket.closed_on_time.is_(True)).label("on_time"),
    ).where(Ticket.status == closed, Ticket.closed_at >= lo, Ticket.closed_at < hi)
    for r in run(q, Ticket.closed_at):
        put(_key(r, by_day, by_unit), "on_time_completion_rate", r.on_time, r.closed)
    # 3. dispatched in the period: response
    q = select(
        func.count().label("dispatched"),
        func.count().filter(Ticket.signed_on_time.is_(True)).label("signed"),
    ).where(Ticket.dispatched_at >= lo, Ticket.dispatched_at < hi)
    for r in run(q, Ticket.dispatched_at):
        put(_key(r, by_day, by_unit), "response_rate", r.signed, r.dispatched)
    # 4. callbacks due in the period: callback rate
    q = (
        select(
            func.count().label("due"),
            func.count().filter(Callback.status == "done").label("done"),
        )
        .select_from(Callback)
        .join(Ticket, Ticket.id == Callback.ticket_id)
        .where(Callback.due_at >= lo, Callback.due_at < hi, Callback.status != "cancelled")
    )
    for r in run(q, Callback.due_at):
        put(_key(r, by_day, by_unit), "callback_rate", r.done, r.due)
    # 5. rated callbacks recorded in the period: satisfaction and resolution
    q = (
        select(
            func.count().label("rated"),
            func.count().filter(Callback.satisfaction.in_(("satisfied", "basic"))).label("satisfied"),
            func.count().filter(Callback.solved.is_(True)).label("solved"),
        )
        .select_from(Callback)
        .join(Ticket, Ticket.id == Callback.ticket_id)
        .where(Callback.status == "done", Callback.completed_at >= lo, Callback.completed_at < hi,
               Callback.satisfaction.is_not(None))  # fmt: skip
    )
    for r in run(q, Callback.completed_at):
        k = _key(r, by_day, by_unit)
        put(k, "satisfaction_rate", r.satisfied, r.rated)
        put(k, "resolution_rate", r.solved, r.rated)
    return out


def call_figures(
    session: Session, start: dt.date, end: dt.date, *, by_day: bool = False, by_operator: bool = False
) -> dict[tuple, dict[str, Fraction]]:
    """Connection and 15-second rates from the inbound call records (one aggregate query)."""
    lo, hi = bounds(start, end)
    answered = Call.answered_at.is_not(None)
    q = select(
        func.count().label("offered"),
        func.count().filter(answered).label("answered"),
        func.count().filter(and_(answered, Call.wait_seconds <= 15)).label("fast"),
    ).where(Call.direction == "in", Call.offered_at >= lo, Call.offered_at < hi)
    g = _groups(session, by_day, by_operator, Call.operator_id, Call.offered_at)
    if by_operator:
        q = q.where(answered, Call.operator_id.is_not(None))
    if g:
        q = q.add_columns(*g).group_by(*[c.element for c in g])
    out: dict[tuple, dict[str, Fraction]] = {}
    for r in session.execute(q):
        rates = out.setdefault(_key(r, by_day, by_operator), empty_rates(("connection_rate", "answered_in_15s_rate")))
        rates["connection_rate"].add(r.answered, r.offered)
        rates["answered_in_15s_rate"].add(r.fast, r.answered)
    return out


def operator_ticket_figures(session: Session, start: dt.date, end: dt.date) -> dict[int, Fraction]:
    lo, hi = bounds(start, end)
    q = (
        select(
            Ticket.created_by_id,
            func.count().label("accepted"),
            func.count().filter(and_(Ticket.status == "closed", Ticket.close_kind == "first_contact")).label("fc"),
        )
        .where(Ticket.accepted_at >= lo, Ticket.accepted_at < hi, Ticket.status != "rejected",
               Ticket.created_by_id.is_not(None))  # fmt: skip
        .group_by(Ticket.created_by_id)
    )
    return {r.created_by_id: Fraction(r.fc, r.accepted) for r in session.execute(q)}


# --------------------------------------------------------------------------- the report
def _sum(groups: Iterable[dict[str, Fraction]], names: Iterable[str] = RATES) -> dict[str, Fraction]:
    total = empty_rates(names)
    for g in groups:
        for name, f in g.items():
            if name in total:
                total[name].add(f.numerator, f.denominator)
    return total


def unit_view(rates: dict[str, Fraction]) -> dict[str, Fraction]:
    """A unit's rates: the call hall's figures (calls, first contact) are never a unit's."""
    return {k: (Fraction() if k in CENTER_ONLY else v) for k, v in rates.items()}


def ranking_score(rates: dict[str, Fraction]) -> float | None:
    got = [(w, rates[k].value) for k, w in RANKING_WEIGHTS.items() if rates[k].value is not None]
    if not got:
        return None
    wsum = sum(w for w, _ in got)
    return sum(w * v for w, v in got) / wsum


def _units(session: Session, unit_id: int | None = None) -> list[Unit]:
    q = select(Unit).where(Unit.kind != UnitKind.EXPERT_DESK.value)
    if unit_id is not None:
        q = select(Unit).where(Unit.id == unit_id)
    else:
        q = q.where(Unit.active.is_(True))
    return list(session.scalars(q.order_by(Unit.code)))


def report(
    hl: "Hotline", start: dt.date, end: dt.date | None = None, *, unit_id: int | None = None,
    operators: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """The report for a day (``end`` None) or a date range: center, every unit, every operator.

    With ``unit_id`` the report covers that unit only (``rates`` are then the unit's own).
    """
    end = end or start
    with hl.uow(readonly=True) as uow:
        s = uow.session
        by_unit = ticket_figures(s, start, end, by_unit=True, unit_id=unit_id)
        units = _units(s, unit_id)
        known = {u.id for u in units}
        unit_rows = []
        for u in units:
            rates = unit_view(_sum([by_unit.get((u.id,), {})]))
            unit_rows.append({"unit_id": u.id, "code": u.code, "name": u.name, "kind": u.kind,
                              "rates": rates, "score": ranking_score(rates)})  # fmt: skip
        # Inactive units that still had tickets in the period are reported too.
        for (uid,), figs in by_unit.items():
            if uid is not None and uid not in known and unit_id is None:
                u = s.get(Unit, uid)
                rates = unit_view(_sum([figs]))
                unit_rows.append({"unit_id": uid, "code": u.code if u else str(uid), "name": u.name if u else str(uid),
                                  "kind": u.kind if u else None, "rates": rates, "score": ranking_score(rates)})  # fmt: skip
        if unit_id is None:
            center = _sum(by_unit.values())
            calls = call_figures(s, start, end).get((), {})
            for name in ("connection_rate", "answered_in_15s_rate"):
                if name in calls:
                    center[name] = calls[name]
        else:
            center = unit_view(_sum([by_unit.get((unit_id,), {})]))
        ops: list[dict[str, Any]] = []
        if operators and unit_id is None:
            per_op = call_figures(s, start, end, by_operator=True)
            per_op_t = operator_ticket_figures(s, start, end)
            ids = {k[0] for k in per_op} | set(per_op_t)
            users = s.execute(select(User.id, User.display_name, User.role).where(User.id.in_(ids))).all() if ids else []
            names = {u.id: u.display_name for u in users}
            roles = {u.id: u.role for u in users}
            for uid in sorted(ids):
                calls_r = per_op.get((uid,), {})
                fast = calls_r.get("answered_in_15s_rate", Fraction())
                fc = per_op_t.get(uid, Fraction())
                ops.append({
                    "user_id": uid, "name": names.get(uid, str(uid)), "role": roles.get(uid),
                    "calls_answered": fast.denominator, "tickets_accepted": fc.denominator,
                    "rates": {"answered_in_15s_rate": fast, "first_contact_resolution_rate": fc},
                })  # fmt: skip
    ranked = sorted(unit_rows, key=lambda r: (r["score"] is None, -(r["score"] or 0), r["code"]))
    for i, r in enumerate(ranked, 1):
        r["rank"] = i if r["score"] is not None else None
    return {
        "date": start.isoformat() if start == end else None,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "unit_id": unit_id,
        "computed_at": hl.now().isoformat(),
        "rates": center,
        "units": ranked,
        "operators": ops,
    }


def to_json(rep: dict[str, Any]) -> dict[str, Any]:
    """The report with every Fraction as ``{numerator, denominator, value}``."""

    def conv(v: Any) -> Any:
        if isinstance(v, Fraction):
            return v.as_dict()
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return conv(rep)


def trend(hl: "Hotline", start: dt.date, end: dt.date, unit_id: int | None = None) -> list[dict[str, Any]]:
    """One row per day of ``[start, end]`` with every rate (grouped by day in SQL)."""
    with hl.uow(readonly=True) as uow:
        s = uow.session
        t = ticket_figures(s, start, end, by_day=True, by_unit=unit_id is not None, unit_id=unit_id)
        c = call_figures(s, start, end, by_day=True) if unit_id is None else {}
    rows = []
    day = start
    while day <= end:
        key = (day, unit_id) if unit_id is not None else (day,)
        rates = _sum([t.get(key, {})])
        if unit_id is not None:
            rates = unit_view(rates)
        for name, f in c.get((day,), {}).items():
            rates[name] = f
        rows.append({"date": day.isoformat(), "rates": rates})
        day += dt.timedelta(days=1)
    return rows


def trend_view(hl: "Hotline", start: dt.date, end: dt.date, unit_id: int | None = None) -> list[dict[str, Any]]:
    """The daily series for charts: stored snapshots where a day has one (history as it was
    recorded, and cheap: a Beijing-sized month of live aggregates takes seconds), computed live for
    the days without (today, or before the scheduler ran). Each row says its ``source``."""
    scope, scope_id = ("unit", unit_id) if unit_id is not None else ("center", 0)
    got = stored(hl, start, end, scope, scope_id)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    missing = [d for d in days if d not in got]
    live = {}
    if missing:
        live = {r["date"]: r["rates"] for r in trend(hl, min(missing), max(missing), unit_id)}
    rows = []
    for day in days:
        if day in got:
            rates = empty_rates()
            rates.update({k: v for k, v in got[day].items() if k in rates})
            rows.append({"date": day.isoformat(), "rates": rates, "source": "snapshot"})
        else:
            rows.append({"date": day.isoformat(), "rates": live[day.isoformat()], "source": "live"})
    return rows


# --------------------------------------------------------------------------- snapshots
def snapshot_day(hl: "Hotline", day: dt.date) -> int:
    """Store (or replace) the figures of ``day``: center, units, operators. Returns rows written."""
    rep = report(hl, day)
    now = hl.now()
    rows: list[dict[str, Any]] = []

    def add(scope: str, scope_id: int, rates: dict[str, Fraction]) -> None:
        for name, f in rates.items():
            rows.append({"day": day, "scope": scope, "scope_id": scope_id, "rate": name,
                         "numerator": f.numerator, "denominator": f.denominator, "computed_at": now})  # fmt: skip

    add("center", 0, rep["rates"])
    for u in rep["units"]:
        add("unit", u["unit_id"], {k: v for k, v in u["rates"].items() if k not in CENTER_ONLY})
    for op in rep["operators"]:
        add("operator", op["user_id"], op["rates"])
    with hl.uow() as uow:
        uow.session.execute(delete(RateSnapshot).where(RateSnapshot.day == day))
        if rows:
            uow.session.execute(RateSnapshot.__table__.insert(), rows)
        uow.commit()
    return len(rows)


recompute = snapshot_day


def snapshot_missing(hl: "Hotline", days_back: int = 7) -> list[dt.date]:
    """Snapshot every day of the last ``days_back`` days (up to yesterday) that has none: a
    scheduler that was down at 00:10 catches up, and a day is never snapshotted twice by it."""
    today = hl.now().date()
    wanted = [today - dt.timedelta(days=i) for i in range(days_back, 0, -1)]
    with hl.uow(readonly=True) as uow:
        have = {
            _as_date(d)
            for d in uow.session.scalars(
                select(RateSnapshot.day).where(RateSnapshot.day >= wanted[0], RateSnapshot.scope == "center").distinct()
            )
        }
    done = []
    for day in wanted:
        if day not in have:
            snapshot_day(hl, day)
            done.append(day)
    return done


def stored(hl: "Hotline", start: dt.date, end: dt.date, scope: str = "center", scope_id: int = 0) -> dict[dt.date, dict[str, Fraction]]:
    """Stored snapshots of a scope, by day."""
    with hl.uow(readonly=True) as uow:
        q = select(RateSnapshot).where(
            RateSnapshot.day >= start, RateSnapshot.day <= end, RateSnapshot.scope == scope,
            RateSnapshot.scope_id == scope_id,
        )  # fmt: skip
        out: dict[dt.date, dict[str, Fraction]] = {}
        for r in uow.session.scalars(q):
            out.setdefault(_as_date(r.day), {})[r.rate] = Fraction(r.numerator, r.denominator)
        return out


__all__ = [
    "RATES", "RATE_LABELS", "Fraction", "report", "to_json", "trend", "trend_view", "snapshot_day", "recompute",
    "snapshot_missing", "stored", "ticket_figures", "call_figures", "operator_ticket_figures",
]  # fmt: skip
