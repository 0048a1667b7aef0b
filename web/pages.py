"""The workbenches: login/logout and one page per role, rendered on the server.

The pages are thin shells: their JavaScript reads and writes through the JSON API (/api/v1, with the
``X-CSRFToken`` header) and listens on Socket.IO (``web.live``). The few JSON helpers here serve what
the API does not (yet) have: the screen-pop of an assigned call, an operator's own tickets and the
manager's live figures.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from hotline.calls import OPERATOR_STATUS_LABELS, Call, CallOutcome, OperatorStatus
from hotline.errors import AuthError
from hotline.tickets import (
    AT_UNIT,
    REJECT_REASON_LABELS,
    STATUS_LABELS,
    TYPE_LABELS,
    URGENCY_LABELS,
    Status,
    Ticket,
)
from hotline.units import UnitKind
from hotline.users import ROLE_LABELS, Actor, Role, User
from web.login_limits import mark_failed_login
from web.auth import end_login_session, hotline, load_user, login_session

bp = Blueprint("pages", __name__)

# Each role's own workbench; admin may open the center's pages (not a unit's or a desk's).
HOME = {
    Role.OPERATOR: "pages.console",
    Role.UNIT: "pages.unit",
    Role.SUPERVISOR: "pages.supervisor",
    Role.EXPERT: "pages.expert",
    Role.MANAGER: "pages.dashboard",
    Role.ADMIN: "pages.dashboard",
}
PAGE_TITLES = {
    "console": "话务员工作台",
    "unit": "成员单位工作台",
    "supervisor": "督办班长工作台",
    "expert": "专家坐席",
    "dashboard": "管理者看板",
}


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=200)])


class LogoutForm(FlaskForm):
    pass


def _home_url(user: User) -> str:
    return url_for(HOME.get(Role(user.role), "pages.login"))


def _safe_next(target: str | None) -> str | None:
    """Only a local path (no scheme, no host, no '//' trick) may be a redirect target."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def workbench(*roles: str) -> Callable:
    """Login required, and one of ``roles``; another role gets a 403 page naming its own workbench."""

    def deco(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            user = load_user()
            if user is None:
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            if user.role not in roles:
                page = PAGE_TITLES.get(fn.__name__, "该页面")
                return render_template("forbidden.html", user=user, page=page, home=_home_url(user),
                                       role_label=ROLE_LABELS.get(Role(user.role), user.role)), 403  # fmt: skip
            return fn(user, *a, **kw)

        return wrapper

    return deco


def _json_roles(*roles: str) -> Callable:
    def deco(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            user = load_user()
            if user is None:
                return jsonify({"error": "unauthorized", "detail": "请先登录"}), 401
            if user.role not in roles:
                return jsonify({"error": "forbidden", "detail": "当前角色无权访问"}), 403
            return fn(user, *a, **kw)

        return wrapper

    return deco


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"logout_form": LogoutForm(), "ROLE_LABELS": ROLE_LABELS}


def _render(template: str, user: User, **ctx: Any) -> str:
    return render_template(
        template,
        user=user,
        role_label=ROLE_LABELS.get(Role(user.role), user.role),
        server_now=hotline().now().isoformat(),
        labels={
            "status": {s.value: v for s, v in STATUS_LABELS.items()},
            "type": {k.value: v for k, v in TYPE_LABELS.items()},
            "urgency": {k.value: v for k, v in URGENCY_LABELS.items()},
            "reject": {k.value: v for k, v in REJECT_REASON_LABELS.items()},
            "operator": {k.value: v for k, v in OPERATOR_STATUS_LABELS.items()},
        },
        **ctx,
    )


# ---------------------------------------------------------------------- login
@bp.route("/")
def index():  # noqa: ANN201
    user = load_user()
    return redirect(_home_url(user) if user else url_for("pages.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    form = LoginForm()
    next_url = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            user = hotline().directory.authenticate(form.username.data, form.password.data)
        except AuthError:
            mark_failed_login(form.username.data)  # counts towards the lock (web.login_limits)
            flash("用户名或密码错误", "error")
        else:
            login_session(user)
            if next_url and next_url.split("?")[0] != url_for("pages.login"):
                return redirect(next_url)
            return redirect(_home_url(user))
    elif request.method == "POST":
        for errors in form.errors.values():
            for e in errors:
                flash("表单已过期，请重新登录" if "CSRF" in e else e, "error")
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["GET", "POST"])
def logout():  # noqa: ANN201
    form = LogoutForm()
    if request.method == "POST":
        if form.validate_on_submit():
            end_login_session()
            flash("已退出登录", "info")
            return redirect(url_for("pages.login"))
        abort(400)
    return render_template("logout.html", form=form)


# ---------------------------------------------------------------------- workbenches
@bp.route("/console")
@workbench(Role.OPERATOR, Role.ADMIN)
def console(user: User):  # noqa: ANN201
    hl = hotline()
    units = [u for u in hl.directory.units() if u.kind != UnitKind.EXPERT_DESK]
    desks = hl.directory.units(UnitKind.EXPERT_DESK)
    from hotline.tickets import LINES

    return _render("console.html", user, units=units, desks=desks, lines=LINES)


@bp.route("/unit")
@workbench(Role.UNIT)
def unit(user: User):  # noqa: ANN201
    return _render("unit.html", user)


@bp.route("/supervisor")
@workbench(Role.SUPERVISOR, Role.ADMIN)
def supervisor(user: User):  # noqa: ANN201
    units = [u for u in hotline().directory.units() if u.kind != UnitKind.EXPERT_DESK]
    return _render("supervisor.html", user, units=units)


@bp.route("/expert")
@workbench(Role.EXPERT)
def expert(user: User):  # noqa: ANN201
    return _render("expert.html", user)


@bp.route("/dashboard")
@workbench(Role.MANAGER, Role.ADMIN)
def dashboard(user: User):  # noqa: ANN201
    return _render("dashboard.html", user)


# ---------------------------------------------------------------------- JSON helpers for the pages
@bp.get("/workbench/calls/<int:call_id>/pop")
@_json_roles(Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.EXPERT)
def call_pop(user: User, call_id: int):  # noqa: ANN201
    """The screen-pop: the push carries only the call id; the number comes from here, to the
    operator the call was given to (or a supervisor), never through the message queue."""
    hl = hotline()
    call = hl.calls.get(call_id)
    if call is None:
        return jsonify({"error": "not_found", "detail": "来电记录不存在"}), 404
    if user.role in (Role.OPERATOR, Role.EXPERT) and call.operator_id != user.id:
        return jsonify({"error": "forbidden", "detail": "该来电未分配给您"}), 403
    out: dict[str, Any] = {
        "call_id": call.id, "line": call.line, "offered_at": call.offered_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended": call.ended_at is not None, "number": call.number,
    }  # fmt: skip
    if call.number:
        out.update(hl.queries.caller_history(Actor.of(user), call.number))
    else:
        out.update({"caller": None, "tickets": []})
    return jsonify(out)


@bp.get("/workbench/my-tickets")
@_json_roles(Role.OPERATOR, Role.ADMIN, Role.EXPERT, Role.SUPERVISOR)
def my_tickets(user: User):  # noqa: ANN201
    """The tickets this operator accepted, newest first (the API has no created_by filter yet)."""
    hl = hotline()
    actor, now = Actor.of(user), hl.now()
    raw = request.args.get("limit") or "30"
    if not raw.isdigit():
        return jsonify({"error": "invalid_input", "detail": "参数 limit 须为整数", "field": "limit"}), 400
    limit = min(max(int(raw), 1), 100)
    with hl.uow(readonly=True) as uow:
        rows = uow.session.scalars(
            select(Ticket).options(*hl.queries._load_opts()).where(Ticket.created_by_id == user.id)
            .order_by(Ticket.accepted_at.desc(), Ticket.id.desc()).limit(limit)
        ).all()  # fmt: skip
        return jsonify({"items": [hl.queries.view(t, actor, now) for t in rows]})


def dashboard_figures(hl: Any) -> dict[str, Any]:
    """Today's live figures for the manager: calls, operators, tickets by status, today's rates."""
    now = hl.now()
    start = dt.datetime.combine(now.date(), dt.time())
    with hl.uow(readonly=True) as uow:
        s = uow.session
        by_status = dict(s.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
        today_status = dict(
            s.execute(select(Ticket.status, func.count()).where(Ticket.accepted_at >= start).group_by(Ticket.status)).all()
        )
        accepted = sum(today_status.values())
        first_contact = s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.accepted_at >= start, Ticket.close_kind == "first_contact"))  # fmt: skip
        closed_today = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.closed_at >= start))
        closed_on_time = s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.closed_at >= start, Ticket.closed_on_time.is_(True)))  # fmt: skip
        dispatched_today = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.dispatched_at >= start))
        overdue = s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.status.in_([x.value for x in AT_UNIT]), Ticket.due_at < now))  # fmt: skip
        pending_ext = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.pending_extension_days.is_not(None)))
        calls = s.execute(
            select(Call.answered_at, Call.wait_seconds, Call.outcome, Call.ended_at)
            .where(Call.direction == "in", Call.offered_at >= start)
        ).all()  # fmt: skip
        hours = Counter(
            h.hour for (h,) in s.execute(select(Ticket.accepted_at).where(Ticket.accepted_at >= start)).all()
        )
    offered = len(calls)
    answered = [c for c in calls if c.answered_at is not None]
    in15 = [c for c in answered if c.wait_seconds is not None and c.wait_seconds <= 15]
    abandoned = sum(1 for c in calls if c.outcome == CallOutcome.ABANDONED)
    states = Counter(o["status"] for o in hl.calls.operator_states() if o["role"] == Role.OPERATOR)

    def rate(num: int, den: int) -> dict[str, Any]:
        return {"num": num, "den": den, "value": round(num / den * 100, 2) if den else None}

    return {
        "now": now.isoformat(),
        "calls_waiting": hl.calls.count_waiting(),
        # Lists, not objects: JSON objects come out with sorted keys and the order matters here.
        "operators": [
            {"state": st.value, "label": OPERATOR_STATUS_LABELS[st], "count": states.get(st.value, 0)}
            for st in OperatorStatus
        ],
        "tickets_by_status": [
            {"status": st.value, "label": STATUS_LABELS[st], "count": by_status.get(st.value, 0),
             "today": today_status.get(st.value, 0)}
            for st in Status
        ],
        "today": {
            "accepted": accepted, "dispatched": dispatched_today, "closed": closed_today,
            "first_contact": first_contact, "calls_offered": offered, "calls_answered": len(answered),
            "calls_abandoned": abandoned, "overdue_now": overdue, "pending_extensions": pending_ext,
        },  # fmt: skip
        "rates": {
            "connection": rate(len(answered), offered),
            "answered_15s": rate(len(in15), len(answered)),
            "first_contact": rate(first_contact, accepted),
            "on_time": rate(closed_on_time, closed_today),
        },
        "hourly": [hours.get(h, 0) for h in range(24)],
    }


@bp.get("/workbench/dashboard.json")
@_json_roles(Role.MANAGER, Role.ADMIN, Role.SUPERVISOR)
def dashboard_json(user: User):  # noqa: ANN201
    return jsonify(dashboard_figures(hotline()))
