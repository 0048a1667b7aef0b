"""The managers' reports: the daily (and monthly) report page, Excel/PDF export and the JSON API.

Pages (login session; roles manager, supervisor, admin):
    GET /reports/daily?date=YYYY-MM-DD[&unit=ID]     every rate with numerator/denominator, the unit
                                                     ranking, the 30-day trend chart
    GET /reports/monthly?month=YYYY-MM[&unit=ID]     the same for a month (trend: its days)
    GET /reports/daily.xlsx?date=… | /reports/daily.pdf?date=…   (monthly.xlsx / monthly.pdf alike)

API (session or bearer token; same roles):
    GET  /api/v1/reports/daily?date=&unit_id=          one day (default yesterday)
    GET  /api/v1/reports/range?from=&to=&unit_id=      any date range (at most 366 days)
    GET  /api/v1/reports/trend?from=&to=&unit_id=      one row per day (stored snapshot, else live)
    GET  /api/v1/reports/snapshots?from=&to=&scope=center|unit|operator&scope_id=
    POST /api/v1/reports/snapshots/<date>              recompute a stored day (manager, admin)

Numbers come from ``scheduler.rates`` (definitions and day-assignment rules in its docstring).
"""
from __future__ import annotations

import datetime as dt
from functools import wraps
from pathlib import Path
from typing import Any, Callable

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for

from hotline.errors import Forbidden, InvalidInput
from hotline.users import ROLE_LABELS, Role
from scheduler import rates
from scheduler.export import to_pdf, to_xlsx
from web.auth import hotline, load_user, roles_required

bp = Blueprint("reports", __name__, template_folder="templates")

REPORT_ROLES = (Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
MAX_RANGE_DAYS = 366
TREND_DAYS = 30


# --------------------------------------------------------------------------- parameters
def _date_arg(name: str, default: dt.date | None = None) -> dt.date:
    raw = request.args.get(name)
    if not raw:
        if default is None:
            raise InvalidInput(f"缺少参数 {name}（YYYY-MM-DD）", field=name)
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"日期格式应为 YYYY-MM-DD：{raw!r}", field=name) from None


def _yesterday() -> dt.date:
    return hotline().now().date() - dt.timedelta(days=1)


def _id_arg(name: str, raw: str | None) -> int | None:
    """An id from the query string: digits that fit the database's 64-bit ids, else a 400."""
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > 2**63 - 1:
        raise InvalidInput(f"参数 {name} 须为有效编号", field=name)
    return int(raw)


def _unit_arg() -> int | None:
    return _id_arg("unit_id", request.args.get("unit_id") or request.args.get("unit"))


def _range() -> tuple[dt.date, dt.date]:
    start = _date_arg("from")
    end = _date_arg("to", start)
    if end < start:
        raise InvalidInput("结束日期不能早于开始日期", field="to")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"统计区间不能超过{MAX_RANGE_DAYS}天", field="to")
    return start, end


def _month() -> tuple[dt.date, dt.date, str]:
    raw = request.args.get("month") or _yesterday().strftime("%Y-%m")
    try:
        start = dt.datetime.strptime(raw, "%Y-%m").date()
    except ValueError:
        raise InvalidInput(f"月份格式应为 YYYY-MM：{raw!r}", field="month") from None
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return start, end, raw


# --------------------------------------------------------------------------- API
@bp.get("/api/v1/reports/daily")
@roles_required(*REPORT_ROLES)
def api_daily():  # noqa: ANN201
    day = _date_arg("date", _yesterday())
    return jsonify(rates.to_json(rates.report(hotline(), day, unit_id=_unit_arg())))


@bp.get("/api/v1/reports/range")
@roles_required(*REPORT_ROLES)
def api_range():  # noqa: ANN201
    start, end = _range()
    return jsonify(rates.to_json(rates.report(hotline(), start, end, unit_id=_unit_arg())))


@bp.get("/api/v1/reports/trend")
@roles_required(*REPORT_ROLES)
def api_trend():  # noqa: ANN201
    start, end = _range()
    return jsonify({"from": start.isoformat(), "to": end.isoformat(), "unit_id": _unit_arg(),
                    "days": rates.to_json({"d": rates.trend_view(hotline(), start, end, _unit_arg())})["d"]})  # fmt: skip


@bp.get("/api/v1/reports/snapshots")
@roles_required(*REPORT_ROLES)
def api_snapshots():  # noqa: ANN201
    start, end = _range()
    scope = request.args.get("scope", "center")
    if scope not in ("center", "unit", "operator"):
        raise InvalidInput("scope 应为 center、unit 或 operator", field="scope")
    scope_id = _id_arg("scope_id", request.args.get("scope_id")) or 0
    got = rates.stored(hotline(), start, end, scope, scope_id)
    return jsonify({"scope": scope, "scope_id": scope_id,
                    "days": [{"date": d.isoformat(), "rates": rates.rates_dict(r)} for d, r in sorted(got.items())]})  # fmt: skip


@bp.post("/api/v1/reports/snapshots/<day>")
@roles_required(Role.MANAGER, Role.ADMIN)
def api_recompute(day: str):  # noqa: ANN201
    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        raise InvalidInput("日期格式应为 YYYY-MM-DD") from None
    if d >= hotline().now().date():
        raise InvalidInput("只能重算已结束的日期")
    n = rates.recompute(hotline(), d)
    return jsonify({"date": d.isoformat(), "rows": n})


# --------------------------------------------------------------------------- pages
def _page(fn: Callable) -> Callable:
    @wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        user = load_user()
        if user is None:
            if "pages" in current_app.blueprints:
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            return Response("请先登录", status=401)
        if user.role not in REPORT_ROLES:
            try:  # the workbench's own 403 page, naming the user's workbench
                from web.pages import _home_url

                return render_template("forbidden.html", user=user, page="运行指标报表", home=_home_url(user),
                                       role_label=ROLE_LABELS.get(Role(user.role), user.role)), 403  # fmt: skip
            except Exception:  # noqa: BLE001 - no workbench pages in this app
                raise Forbidden("只有管理者、督办班长和系统管理员可以查看报表") from None
        return fn(user, *a, **kw)

    return wrapper


def _base_template() -> str:
    """The workbench layout when the pages blueprint provides it, else a page of our own."""
    if "pages" in current_app.blueprints and (Path(current_app.root_path) / "templates" / "base.html").exists():
        return "base.html"
    return "reports/standalone.html"


def _units_for_select() -> list[dict[str, Any]]:
    return [u for u in (x.as_dict() for x in hotline().directory.units()) if u["kind"] != "expert_desk"] \
        if hasattr(hotline().directory, "units") else []  # fmt: skip


def _render(user: Any, rep: dict[str, Any], trend: list[dict[str, Any]], **ctx: Any) -> str:
    return render_template(
        "reports/daily.html",
        base_template=_base_template(),
        user=user,
        role_label=ROLE_LABELS.get(Role(user.role), user.role),
        rep=rep,
        trend=trend,
        rate_names=rates.RATES,
        labels_=rates.RATE_LABELS,
        formulas=rates.RATE_FORMULAS,
        center_only=rates.CENTER_ONLY,
        units=_units_for_select(),
        **ctx,
    )


@bp.get("/reports/")
@bp.get("/reports")
def index():  # noqa: ANN201
    return redirect(url_for("reports.daily"))


@bp.get("/reports/daily")
@_page
def daily(user: Any):  # noqa: ANN201
    hl = hotline()
    day = _date_arg("date", _yesterday())
    unit_id = _unit_arg()
    rep = rates.to_json(rates.report(hl, day, unit_id=unit_id))
    trend = rates.to_json({"d": rates.trend_view(hl, day - dt.timedelta(days=TREND_DAYS - 1), day, unit_id)})["d"]
    return _render(user, rep, trend, mode="daily", day=day, unit_id=unit_id,
                   prev=(day - dt.timedelta(days=1)).isoformat(), next=(day + dt.timedelta(days=1)).isoformat(),
                   month=day.strftime("%Y-%m"))  # fmt: skip


@bp.get("/reports/monthly")
@_page
def monthly(user: Any):  # noqa: ANN201
    hl = hotline()
    start, end, month = _month()
    unit_id = _unit_arg()
    rep = rates.to_json(rates.report(hl, start, end, unit_id=unit_id))
    trend = rates.to_json({"d": rates.trend_view(hl, start, end, unit_id)})["d"]
    return _render(user, rep, trend, mode="monthly", day=end, unit_id=unit_id, month=month)


def _download(data: bytes, filename: str, mimetype: str) -> Response:
    from urllib.parse import quote

    resp = Response(data, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return resp


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/reports/daily.<fmt>")
@_page
def daily_export(user: Any, fmt: str):  # noqa: ANN201
    hl = hotline()
    day = _date_arg("date", _yesterday())
    unit_id = _unit_arg()
    rep = rates.to_json(rates.report(hl, day, unit_id=unit_id))
    if fmt == "xlsx":
        trend = rates.to_json({"d": rates.trend_view(hl, day - dt.timedelta(days=TREND_DAYS - 1), day, unit_id)})["d"]
        return _download(to_xlsx(rep, trend), f"12345日报-{day}.xlsx", XLSX)
    if fmt == "pdf":
        return _download(to_pdf(rep), f"12345日报-{day}.pdf", "application/pdf")
    return Response("不支持的格式", status=404)


@bp.get("/reports/monthly.<fmt>")
@_page
def monthly_export(user: Any, fmt: str):  # noqa: ANN201
    hl = hotline()
    start, end, month = _month()
    unit_id = _unit_arg()
    rep = rates.to_json(rates.report(hl, start, end, unit_id=unit_id))
    if fmt == "xlsx":
        trend = rates.to_json({"d": rates.trend_view(hl, start, end, unit_id)})["d"]
        return _download(to_xlsx(rep, trend), f"12345月报-{month}.xlsx", XLSX)
    if fmt == "pdf":
        return _download(to_pdf(rep), f"12345月报-{month}.pdf", "application/pdf")
    return Response("不支持的格式", status=404)

