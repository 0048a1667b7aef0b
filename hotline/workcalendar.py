"""The working-day calendar: Chinese public holidays, the weekend days that become working days
(调休), and local overrides an administrator keeps in the database.

Deadlines counted in working days run on *working time*: time flows only on working days, 24 hours
each. A ticket dispatched on Friday 16:00 with one working day is due Monday 16:00; one dispatched
on a holiday starts its clock at 00:00 of the next working day. Remaining working time (the traffic
lights on the unit's screen) is measured on the same scale.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Callable

import chinese_calendar
from sqlalchemy import Boolean, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base

log = logging.getLogger(__name__)
DAY = dt.timedelta(days=1)


class CalendarOverride(Base):
    """A local exception to the national calendar (e.g. a city holiday, a typhoon day off)."""

    __tablename__ = "calendar_overrides"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200))


class WorkCalendar:
    def __init__(
        self,
        overrides: dict[dt.date, bool] | None = None,
        loader: Callable[[], dict[dt.date, bool]] | None = None,
        ttl_seconds: float = 300.0,
    ) -> None:
        # ``loader`` re-reads the override table now and then, so an override saved by one process
        # reaches the others within ``ttl_seconds`` without shared in-memory state.
        self._overrides = dict(overrides or {})
        self._loader = loader
        self._ttl = ttl_seconds
        self._loaded_at = 0.0 if loader else float("inf")
        self._lock = threading.Lock()
        self._warned_years: set[int] = set()

    def reload(self) -> None:
        if self._loader:
            data = self._loader()
            with self._lock:
                self._overrides = data
                self._loaded_at = time.monotonic()

    def _current_overrides(self) -> dict[dt.date, bool]:
        if self._loader and time.monotonic() - self._loaded_at > self._ttl:
            try:
                self.reload()
            except Exception:  # the database may be briefly away; keep the last known table
                log.exception("could not reload calendar overrides")
                self._loaded_at = time.monotonic()
        return self._overrides

    def is_workday(self, day: dt.date) -> bool:
        overrides = self._current_overrides()
        if day in overrides:
            return overrides[day]
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            # The library knows the years the State Council has announced. Beyond them we fall
            # back to weekends only, and say so once: an admin should add the year's overrides.
            if day.year not in self._warned_years:
                self._warned_years.add(day.year)
                log.warning("no national holiday data for %s: counting weekends only", day.year)
            return day.weekday() < 5

    def next_workday(self, day: dt.date) -> dt.date:
        while not self.is_workday(day):
            day += DAY
        return day

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        if days < 0:
            raise ValueError("days must be >= 0")
        if not self.is_workday(start.date()):
            start = dt.datetime.combine(self.next_workday(start.date()), dt.time())
        day = start.date()
        for _ in range(days):
            day = self.next_workday(day + DAY)
        return dt.datetime.combine(day, start.time())

    def working_seconds_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working time from ``a`` to ``b`` in seconds; negative when ``b`` is before ``a``."""
        if b < a:
            return -self.working_seconds_between(b, a)
        total = 0.0
        cur = a
        while cur < b:
            next_midnight = dt.datetime.combine(cur.date() + DAY, dt.time())
            end = min(next_midnight, b)
            if self.is_workday(cur.date()):
                total += (end - cur).total_seconds()
            cur = end
        return total

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        """Working days in (a, b]: how many working days later b is than a."""
        n, day = 0, a
        while day < b:
            day += DAY
            n += self.is_workday(day)
        return n
