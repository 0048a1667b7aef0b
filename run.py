#!/usr/bin/env python
"""One command for the whole 12345 hotline system.

    python run.py                 # everything in one process: SQLite, in-process bus, demo city
    python run.py web             # the web process alone (production runs several behind Redis)
    python run.py db upgrade      # create or upgrade the schema (Alembic)
    python run.py --help          # every subcommand

Configuration comes from the environment: DATABASE_URL (default: SQLite under instance/),
HOTLINE_MESSAGE_QUEUE (redis://… to share live events between processes), HOTLINE_SECRET_KEY, ….
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from typing import Any, Callable

log = logging.getLogger("hotline")


def _settings():  # noqa: ANN202
    from hotline.config import Settings

    return Settings.from_env()


class StartError(Exception):
    """A start that cannot go on: one clear line for the user, no traceback."""


def _prepare(settings, demo: bool):  # noqa: ANN001, ANN202
    """Create or upgrade the database; load the demo city into an empty one."""
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from hotline.bootstrap import DemoLoadError, prepare

    try:
        return prepare(settings, demo=demo, progress=lambda m: print(m, flush=True))
    except DemoLoadError as e:
        raise StartError(str(e)) from e
    except OperationalError as e:
        raise StartError(f"无法连接数据库 {_safe_url(settings.database_url)}：{_first_line(e.orig)}") from e
    except SQLAlchemyError as e:
        raise StartError(f"数据库 {_safe_url(settings.database_url)} 出错：{_first_line(e)}") from e


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse is shown without its credentials
        return url.split("@")[-1]


def _first_line(e: object) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _check_ports(host: str, port: int, with_sip: bool) -> None:
    """Both ports free before anything starts: a second copy must say which port is taken, not
    print a traceback for one and a banner for the other."""
    import socket

    wanted = [("网页", socket.SOCK_STREAM, host, port)]
    if with_sip and os.environ.get("HOTLINE_SIP", "on").strip().lower() not in ("0", "off", "false", "no"):
        from telephony.config import SipConfig

        cfg = SipConfig.from_env()
        if cfg.listen_port:  # SIP listens on UDP and TCP alike
            wanted += [("SIP ", socket.SOCK_DGRAM, cfg.listen_host, cfg.listen_port),
                       ("SIP ", socket.SOCK_STREAM, cfg.listen_host, cfg.listen_port)]
    for label, kind, h, p in wanted:
        with socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET, kind) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((h, p))
            except OSError as e:
                hint = "--port" if label == "网页" else "HOTLINE_SIP_LISTEN=主机:端口"
                raise StartError(f"{label}端口 {h}:{p} 已被占用或不可用（{e.strerror}）：可能已有一个 python run.py "
                                 f"在运行；请先停止它，或用 {hint} 换一个端口") from e


def _print_logins(logins: list[Any], host: str, port: int, created: bool = True) -> None:
    from hotline.demo import DEMO_PASSWORD

    print(f"\n12345 热线系统已启动： http://{host}:{port}/", flush=True)
    if not logins:
        return
    shown: dict[str, list[str]] = {}
    for login in logins:
        shown.setdefault(login.role, []).append(login.username)
    labels = {"admin": "系统管理员", "manager": "管理者", "supervisor": "督办班长", "operator": "话务员",
              "expert": "专家坐席", "unit": "成员单位"}  # fmt: skip
    print(f"演示账号（{'密码均为' if created else '演示数据已存在，初始密码均为'} {DEMO_PASSWORD}）：")
    for role, names in shown.items():
        more = f" …共{len(names)}个" if len(names) > 6 else ""
        print(f"  {labels.get(role, role):<6} {', '.join(names[:6])}{more}")
    print("  (成员单位账号：t01–t30 乡镇街道，d01–d30 市直部门，p01–p30 公共服务单位)\n", flush=True)


def _setup_logging(level: str = "INFO") -> None:
    from hotline.callers import install_log_masking
    from hotline.clock import ZoneFormatter

    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO))
    # Times in the center's zone (HOTLINE_TZ), like the API's, with the offset in every line.
    formatter = ZoneFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", _settings().timezone)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    install_log_masking()
    # Libraries that chatter at start-up: the migrations and jieba's dictionary loading.
    for name in ("alembic", "jieba"):
        logging.getLogger(name).setLevel(logging.WARNING)


# Each subsystem may contribute start-up hooks; they are looked up by name so that the core runs
# (and its tests pass) while a subsystem is absent.
def _optional(module: str, attr: str) -> Callable | None:
    try:
        mod = __import__(module, fromlist=[attr])
    except ImportError as e:
        log.debug("%s not available: %s", module, e)
        return None
    return getattr(mod, attr, None)


def cmd_serve(args: argparse.Namespace, only_web: bool = False) -> int:
    settings = _settings()
    _check_ports(args.host, args.port, with_sip=not only_web)
    prepared = _prepare(settings, demo=settings.demo and not args.no_demo)
    from hotline.app import Hotline
    from web import create_app, socketio

    from hotline import suggestions

    hl = Hotline(settings)
    extras: list[Any] = []
    if not only_web:
        try:
            report = suggestions.ensure_first_model(hl)
            if report:
                print(f"  已用演示数据训练派单建议模型（{report['n']} 条，{report['seconds']} 秒）", flush=True)
        except Exception:  # no model means no suggestions, never a call hall that cannot start
            log.exception("could not train the first classifier model")
    suggestions.attach(hl)
    if not only_web:
        for module in ("scheduler.integration", "telephony.integration"):
            start = _optional(module, "start")
            if start is not None:
                try:
                    handle = start(hl, args)
                    if handle is not None:
                        extras.append(handle)
                except Exception:  # a subsystem that cannot start must not keep the call hall down
                    log.exception("%s failed to start", module)
    app = create_app(hl)
    _print_logins(prepared.logins, args.host, args.port, prepared.created)
    try:
        socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True, use_reloader=False,
                     log_output=args.verbose)  # fmt: skip
    finally:
        for handle in extras:
            stop = getattr(handle, "stop", None)
            if stop:
                stop()
        hl.dispose()
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from alembic import command

    from hotline.schema import alembic_config, upgrade

    settings = _settings()
    if args.action == "upgrade":
        upgrade(settings.database_url)
        print("数据库已升级到最新版本")
    elif args.action == "downgrade":
        command.downgrade(alembic_config(settings.database_url), args.revision or "-1")
    elif args.action == "current":
        command.current(alembic_config(settings.database_url))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings()
    prepared = _prepare(settings, demo=True)
    if not prepared.created:
        print("数据库中已有数据，未重复生成演示数据", file=sys.stderr)
        return 1
    _print_logins(prepared.logins, "127.0.0.1", 5000)
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    from hotline.app import Hotline
    from hotline.errors import HotlineError
    from hotline.users import Actor

    hl = Hotline(_settings())
    try:
        unit_id = None
        if args.unit:
            unit = hl.directory.unit_by_code(args.unit)
            if unit is None:
                print(f"单位编码不存在：{args.unit}", file=sys.stderr)
                return 2
            unit_id = unit.id
        password = args.password or os.environ.get("HOTLINE_NEW_PASSWORD")
        if not password:
            import getpass

            password = getpass.getpass("密码：")
        user = hl.directory.create_user(Actor.system(), username=args.username, password=password,
                                        display_name=args.name or args.username, role=args.role, unit_id=unit_id)  # fmt: skip
        print(f"已创建用户 {user.username}（{user.role}）")
        if args.token:
            print("API 令牌（仅显示一次）：", hl.directory.issue_token(Actor.of(user), "cli"))
        return 0
    except HotlineError as e:
        print(f"错误：{e.detail}", file=sys.stderr)
        return 2
    finally:
        hl.dispose()


def _listen_options(p: argparse.ArgumentParser, default: Any) -> None:
    """--host/--port, on the main parser and again after ``serve`` / ``web`` (``run.py web --port
    5001`` and ``run.py --port 5001 web`` both work; the subcommand's value wins)."""
    p.add_argument("--host", default=default if default is argparse.SUPPRESS else os.environ.get("HOTLINE_HOST", "127.0.0.1"),
                   help="address to serve on (default 127.0.0.1, or HOTLINE_HOST)")
    p.add_argument("--port", type=int,
                   default=default if default is argparse.SUPPRESS else int(os.environ.get("HOTLINE_PORT", "5000")),
                   help="port to serve on (default 5000, or HOTLINE_PORT)")
    p.add_argument("--no-demo", action="store_true", default=default if default is argparse.SUPPRESS else False,
                   help="do not load the demo city into an empty database")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python run.py", description="12345 政务服务便民热线系统",
                                epilog="python run.py COMMAND --help shows a command's own options")
    _listen_options(p, None)
    p.add_argument("--verbose", action="store_true", help="log every HTTP request")
    p.add_argument("--log-level", default=os.environ.get("HOTLINE_LOG_LEVEL", "INFO"))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="everything in one process (the default)",
                           description="Everything in one process: web, live push, scheduler and SIP bridge. "
                                       "The database is created and migrated, and an empty one gets the demo city.")
    _listen_options(serve, argparse.SUPPRESS)
    web = sub.add_parser("web", help="the web process only (API, workbenches, live push)",
                         description="The web process alone (API, workbenches, live push). Production runs several "
                                     "behind a proxy, sharing PostgreSQL and HOTLINE_MESSAGE_QUEUE (Redis).")
    _listen_options(web, argparse.SUPPRESS)
    db = sub.add_parser("db", help="database schema (Alembic)", description="Create, upgrade or inspect the schema.")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?")
    sub.add_parser("demo", help="load the demo city into an empty database",
                   description="Load the demo city 青川市 (units, staff, tickets in every state) into an empty "
                               "database and print the logins. HOTLINE_DEMO_TICKETS sets the number of tickets.")
    u = sub.add_parser("user", help="create a user", description="Create a user (and optionally an API token).")
    u.add_argument("username")
    u.add_argument("--role", required=True, choices=["operator", "expert", "unit", "supervisor", "manager", "admin"])
    u.add_argument("--name")
    u.add_argument("--unit", help="unit code, for unit and expert users")
    u.add_argument("--password", help="or HOTLINE_NEW_PASSWORD, or asked for")
    u.add_argument("--token", action="store_true", help="also issue an API token")
    # Subsystems add their own commands (classifier, report, sip, scheduler).
    # Its own parser reads everything after the word "classifier" (main() hands it over); found, not
    # imported: scikit-learn costs seconds that no other command should pay at start.
    if importlib.util.find_spec("classifier") is not None:
        sub.add_parser("classifier", help="train, evaluate and try the unit classifier", add_help=False)
    for module in ("scheduler.cli", "telephony.cli"):
        add = _optional(module, "add_cli")
        if add is not None:
            add(sub)
    for name, sp in sub.choices.items():  # a command's --help describes it even where only help= was given
        if sp.description is None:
            sp.description = next((a.help for a in sub._choices_actions if a.dest == name), None)
    return p


def main(argv: list[str]) -> int:
    parser = build_parser()
    # ``run.py [options] classifier …``: the classifier's own parser takes the rest (--help included).
    rest = None
    if "classifier" in argv:
        i = argv.index("classifier")
        argv, rest = argv[: i + 1], argv[i + 1:]
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    command = args.command or "serve"
    try:
        if command == "classifier":
            return int(_optional("classifier.cli", "main")(rest) or 0)
        if command == "serve":
            return cmd_serve(args)
        if command == "web":
            return cmd_serve(args, only_web=True)
        handler = {"db": cmd_db, "demo": cmd_demo, "user": cmd_user}.get(command) or getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return 2
        return int(handler(args) or 0)
    except StartError as e:
        print(f"启动失败：{e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
