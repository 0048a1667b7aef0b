"""One injectable clock, so deadlines, callbacks and rates can be tested across days and holidays.

All times in the system are naive datetimes in the center's local time (a 12345 center serves one
city in one time zone, and the working-day calendar is defined in that local time).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(tz)

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz).replace(tzinfo=None, microsecond=0)


class FrozenClock:
    """A clock the tests move by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = when

    def advance(self, **delta: float) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(**delta)
            return self._now


class ZoneFormatter(logging.Formatter):
    """Log times in the center's zone with the offset shown (``2026-12-03 09:15:02+0800``), so a log
    line and the API's naive local times agree whatever zone the machine itself is set to."""

    def __init__(self, fmt: str | None = None, tz: str = "Asia/Shanghai") -> None:
        super().__init__(fmt)
        self.tz = ZoneInfo(tz)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return dt.datetime.fromtimestamp(record.created, self.tz).strftime(datefmt or "%Y-%m-%d %H:%M:%S%z")
