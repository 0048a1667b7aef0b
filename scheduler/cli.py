"""``run.py`` subcommands: ``scheduler`` (the scheduler process alone) and ``report``.

    python run.py scheduler                      # lease-guarded APScheduler, until Ctrl-C / SIGTERM
    python run.py scheduler --once               # run every scan once now (no lease), print results
    python run.py report daily --date 2026-11-21 --json
    python run.py report daily --date 2026-11-21 --unit T01        # one unit (code or id)
    python run.py report range --from 2026-11-01 --to 2026-11-30 [--unit T01] [--json]
    python run.py report snapshot --date 2026-11-21               # (re)compute a stored day
    python run.py report export --date 2026-11-21 --format xlsx --out daily.xlsx   # or pdf

Reports print to stdout; logs go to stderr. Like ``python run.py``, a report on an empty database
(with HOTLINE_DEMO on, the default) first upgrades the schema and loads the demo city.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from hotline.bootstrap import ready_hotline, run_until_signalled


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_cli(sub: Any) -> None:
    s = sub.add_parser("scheduler", help="the scheduler process alone (deadlines, callbacks, daily rates)")
    s.add_argument("--once", action="store_true", help="run each scan once now, without the lease, and exit")
    s.set_defaults(handler=cmd_scheduler)

    r = sub.add_parser("report", help="rate reports (daily, range, snapshot, export)")
    rs = r.add_subparsers(dest="report_command", metavar="KIND", required=True)
    d = rs.add_parser("daily", help="every rate of one day: center, units, operators")
    d.add_argument("--date", type=_date, help="default: yesterday")
    d.add_argument("--unit", help="unit code or id: that unit only")
    d.add_argument("--json", action="store_true", help="one JSON object on stdout")
    d.set_defaults(handler=cmd_report)
    g = rs.add_parser("range", help="every rate of a date range")
    g.add_argument("--from", dest="date_from", type=_date, required=True)
    g.add_argument("--to", dest="date_to", type=_date, required=True)
    g.add_argument("--unit")
    g.add_argument("--json", action="store_true")
    g.set_defaults(handler=cmd_report)
    n = rs.add_parser("snapshot", help="store (or recompute) the snapshot of a day")
    n.add_argument("--date", type=_date, help="default: yesterday")
    n.set_defaults(handler=cmd_snapshot)
    e = rs.add_parser("export", help="the daily report as an Excel or PDF file")
    e.add_argument("--date", type=_date, help="default: yesterday")
    e.add_argument("--format", choices=["xlsx", "pdf"], default="xlsx")
    e.add_argument("--out", required=True)
    e.set_defaults(handler=cmd_export)


def _unit_id(hl: Any, ref: str | None) -> int | None:
    if not ref:
        return None
    unit = hl.directory.unit_by_code(ref)
    if unit is not None:
        return unit.id
    if ref.isdigit():
        return int(ref)
    raise SystemExit(f"单位不存在：{ref}")


def cmd_report(args: argparse.Namespace) -> int:
    from scheduler import rates

    hl = ready_hotline()
    try:
        if args.report_command == "daily":
            start = end = args.date or (hl.now().date() - dt.timedelta(days=1))
        else:
            start, end = args.date_from, args.date_to
            if end < start:
                print("结束日期不能早于开始日期", file=sys.stderr)
                return 2
        rep = rates.to_json(rates.report(hl, start, end, unit_id=_unit_id(hl, args.unit)))
        if args.json:
            print(json.dumps(rep, ensure_ascii=False))
        else:
            print(format_text(rep))
        return 0
    finally:
        hl.dispose()


def _pct(r: dict[str, Any]) -> str:
    return "—" if r["value"] is None else f"{r['value'] * 100:.2f}%"


def format_text(rep: dict[str, Any]) -> str:
    from scheduler.rates import RATE_LABELS, RATES

    period = rep["date"] or f"{rep['start']} 至 {rep['end']}"
    lines = [f"12345 热线运行指标  {period}  （统计时间 {rep['computed_at']}）", ""]
    for k in RATES:
        r = rep["rates"][k]
        lines.append(f"  {RATE_LABELS[k]:<8} {_pct(r):>8}   {r['numerator']}/{r['denominator']}")
    if rep["units"]:
        lines += ["", "  单位排名（响应率10%+解决率45%+满意率45%）"]
        for u in rep["units"][:20]:
            score = "—" if u["score"] is None else f"{u['score'] * 100:.2f}"
            lines.append(f"  {u['rank'] or '-':>3}  {u['name']:<16} {score:>7}   按时办结 {_pct(u['rates']['on_time_completion_rate'])}"
                         f"  满意 {_pct(u['rates']['satisfaction_rate'])}")  # fmt: skip
    return "\n".join(lines)


def cmd_snapshot(args: argparse.Namespace) -> int:
    from scheduler import rates

    hl = ready_hotline()
    try:
        day = args.date or (hl.now().date() - dt.timedelta(days=1))
        n = rates.snapshot_day(hl, day)
        print(f"{day}：已保存 {n} 条指标快照")
        return 0
    finally:
        hl.dispose()


def cmd_export(args: argparse.Namespace) -> int:
    from scheduler import rates
    from scheduler.export import to_pdf, to_xlsx

    hl = ready_hotline()
    try:
        day = args.date or (hl.now().date() - dt.timedelta(days=1))
        rep = rates.to_json(rates.report(hl, day))
        data = to_xlsx(rep) if args.format == "xlsx" else to_pdf(rep)
        with open(args.out, "wb") as fh:
            fh.write(data)
        print(f"已导出 {args.out}", file=sys.stderr)
        return 0
    finally:
        hl.dispose()


def cmd_scheduler(args: argparse.Namespace) -> int:
    from scheduler.config import SchedulerConfig
    from scheduler.service import SchedulerService, Tasks

    hl = ready_hotline()
    cfg = SchedulerConfig.from_env()
    if args.once:
        try:
            out = Tasks(hl, cfg).run_all()
            print(json.dumps(out, ensure_ascii=False, default=str))
            return 0
        finally:
            hl.dispose()
    from web.live import attach_from_settings

    attach_from_settings(hl)
    svc = SchedulerService(hl, cfg).start()
    print(f"调度进程已启动：{svc.lease.holder}（持有租约时执行任务）", file=sys.stderr, flush=True)
    try:
        run_until_signalled()
    finally:
        svc.stop()
        hl.dispose()
    return 0
