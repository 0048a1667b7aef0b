"""Bring a process's Hotline up: the schema upgraded, the demo city in an empty database.

Every entry point (``python run.py``, ``run.py sip``, ``run.py scheduler``, ``run.py report``) starts
the same way, so a first command on a fresh machine works whichever it is.

The demo city is written through the service layer in many transactions, so it is bracketed by a
``system_state`` row instead: ``loading`` (claimed by one process, refreshed as it goes) and then
``complete``. A start that finds a ``loading`` row nobody has touched for a while knows the last
first start failed half-way: it says so, empties the tables and writes the demo again. Two processes
started together on an empty database write it once: the second waits for the first.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import signal
import sys
import threading
import time
from typing import Any, Callable

from hotline.app import Hotline
from hotline.config import Settings
from hotline.errors import Conflict
from hotline.files import private_dir, secure_umask

log = logging.getLogger(__name__)

DEMO_KEY = "demo"
STALE_AFTER = dt.timedelta(minutes=2)  # a loader refreshes its row every few seconds
WAIT_FOR_OTHER = 300.0  # seconds a second process waits for the first one's demo


class DemoLoadError(RuntimeError):
    """The demo city could not be written; the next start clears what was written and retries."""


@dataclasses.dataclass
class Prepared:
    logins: list[Any]  # the demo's logins (DemoLogin), when the database holds the demo city
    created: bool  # written by this start (False: it was there already)


def prepare(settings: Settings, demo: bool | None = None,
            progress: Callable[[str], None] | None = None) -> Prepared:  # fmt: skip
    """Upgrade the schema; load the demo city into an empty database (or finish a failed load)."""
    from hotline.schema import upgrade

    say = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    # From here on everything this process writes (database, model, recordings) is owner-only.
    secure_umask()
    private_dir(settings.data_dir)
    upgrade(settings.database_url)
    hl = Hotline(settings)
    try:
        return _demo(hl, settings, settings.demo if demo is None else demo, say)
    finally:
        hl.dispose()


def _demo(hl: Hotline, settings: Settings, wanted: bool, say: Callable[[str], None]) -> Prepared:
    from hotline import demo as demo_mod
    from hotline.schema import wipe
    from hotline.system_state import get_state

    deadline = time.monotonic() + WAIT_FOR_OTHER
    while True:
        state = get_state(hl, DEMO_KEY)
        if state and state.get("state") == "complete":
            return Prepared(demo_mod.logins_from_state(state), created=False)
        if state and state.get("state") == "loading":
            age = hl.now() - dt.datetime.fromisoformat(state["touched_at"])
            if age < STALE_AFTER:  # another process is writing it right now
                if time.monotonic() > deadline:
                    raise DemoLoadError("另一进程正在生成演示数据，等待超时；请稍后重新启动")
                time.sleep(1.0)
                continue
            error = state.get("error") or "进程在生成过程中退出"
            say(f"上次首次启动时演示数据未写完（{error}），正在清除未完成的数据并重新生成……")
            log.warning("the demo city was left half-written (%s); wiping and loading it again", error)
            wipe(hl.engine)
            hl.calendar.reload()
        elif not wanted or demo_mod.is_loaded(hl):
            return Prepared([], created=False)  # demo off, or a database with data of its own
        if not _claim(hl, state):
            continue  # somebody else claimed it first: wait for theirs
        return Prepared(_load(hl, settings, demo_mod, say), created=True)


def _claim(hl: Hotline, previous: dict | None) -> bool:
    from hotline.system_state import SystemState

    now = hl.now()
    value = {"state": "loading", "started_at": now.isoformat(), "touched_at": now.isoformat()}
    try:
        with hl.uow() as uow:
            row = uow.session.get(SystemState, DEMO_KEY)
            if row is None:
                uow.session.add(SystemState(key=DEMO_KEY, value=value, updated_at=now))
            elif previous is not None and row.value == previous:  # still the stale row we saw
                row.value, row.updated_at = value, now
            else:
                return False
            uow.commit()
    except Conflict:
        return False
    return True


def _load(hl: Hotline, settings: Settings, demo_mod: Any, say: Callable[[str], None]) -> list[Any]:
    from hotline.system_state import set_state

    started = hl.now().isoformat()

    def touch(message: str) -> None:
        say("  " + message)
        set_state(hl, DEMO_KEY, {"state": "loading", "started_at": started, "touched_at": hl.now().isoformat()})

    say("首次启动：正在生成演示城市「青川市」……")
    try:
        logins = demo_mod.load(settings, hl.now(), tickets=settings.demo_tickets, progress=touch)
    except Exception as e:
        log.exception("the demo city could not be written")
        reason = f"{type(e).__name__}: {e}"[:300]
        # Left as "loading" but no longer touched: the next start finds it stale and retries at once.
        set_state(hl, DEMO_KEY, {"state": "loading", "started_at": started, "error": reason,
                                 "touched_at": (hl.now() - STALE_AFTER).isoformat()})  # fmt: skip
        raise DemoLoadError(f"生成演示数据失败（{reason}）；再次启动会清除未完成的数据并重试") from e
    set_state(hl, DEMO_KEY, demo_mod.complete_state(logins, hl.now()))
    return logins


def ready_hotline(settings: Settings | None = None) -> Hotline:
    """A Hotline on an up-to-date (and, if empty, demo-filled) database; progress goes to stderr so
    a command's stdout stays its own (one JSON object for ``report --json``)."""
    settings = settings or Settings.from_env()
    prepare(settings)
    return Hotline(settings)


def run_until_signalled() -> None:
    """Block until SIGTERM or SIGINT: the main loop of ``run.py sip`` and ``run.py scheduler``."""
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(1.0):
        pass


__all__ = ["DemoLoadError", "Prepared", "prepare", "ready_hotline", "run_until_signalled"]
