"""Bring a process's Hotline up: the schema upgraded, the demo city in an empty database.

Every entry point (``python run.py``, ``run.py sip``, ``run.py scheduler``, ``run.py report``) starts
the same way, so a first command on a fresh machine works whichever it is.
"""
from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Callable

from hotline.app import Hotline
from hotline.config import Settings
from hotline.files import private_dir, secure_umask


def prepare(settings: Settings, demo: bool | None = None,
            progress: Callable[[str], None] | None = None) -> list[Any]:  # fmt: skip
    """Upgrade the schema; load the demo city into an empty database. Returns the demo logins
    (empty when nothing was loaded)."""
    from hotline import demo as demo_mod
    from hotline.schema import upgrade

    say = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    # From here on everything this process writes (database, model, recordings) is owner-only.
    secure_umask()
    private_dir(settings.data_dir)
    upgrade(settings.database_url)
    hl = Hotline(settings)
    try:
        if (settings.demo if demo is None else demo) and not demo_mod.is_loaded(hl):
            say("首次启动：正在生成演示城市「青川市」……")
            return demo_mod.load(settings, hl.now(), progress=lambda m: say("  " + m))
    finally:
        hl.dispose()
    return []


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
