"""The composition root: one ``Hotline`` object per process holds the database, the clock, the
calendar, the time limits and the message bus, and exposes the services.

The web app, the SIP bridge and the scheduler each build (or share) one; they hold no other state,
so any number of them can run side by side against the same database.
"""
from __future__ import annotations

import functools
import inspect
import logging
import random
import time
from contextlib import AbstractContextManager
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from hotline.clock import Clock, SystemClock
from hotline.config import Settings
from hotline.db import is_retryable, make_engine, make_session_factory
from hotline.errors import Busy, Conflict
from hotline.events import Event, MessageBus
from hotline.timelimits import TimeLimits
from hotline.workcalendar import CalendarOverride, WorkCalendar

log = logging.getLogger(__name__)

TRANSACTION_ATTEMPTS = 2  # with SQLite's 1 s busy wait: about two seconds at most, then Busy


def retry_transactions(cls: type) -> type:
    """Run a service's public operations again when their transaction hit a busy database (SQLite
    locked by another process) or a PostgreSQL serialization failure or deadlock.

    Each operation opens and commits its own unit of work and publishes its events only after the
    commit, so running it again after such a failure repeats nothing that took effect. After the
    last attempt the caller gets ``Busy`` (503, retry later), never a raw database error.
    """
    for name in dir(cls):
        fn = inspect.getattr_static(cls, name)
        if name.startswith("_") or not inspect.isfunction(fn) or getattr(fn, "_hl_retrying", False):
            continue  # plain public methods only (not properties, class or static methods)
        setattr(cls, name, _retrying(fn))
    return cls


def _retrying(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except DBAPIError as e:
                if not is_retryable(e):
                    raise
                if attempt == TRANSACTION_ATTEMPTS:
                    log.warning("%s: database busy after %d attempts", fn.__qualname__, attempt)
                    raise Busy() from e
                time.sleep(random.uniform(0.01, 0.05) * attempt)  # jitter: the racers spread out
        raise AssertionError("unreachable")

    run._hl_retrying = True  # type: ignore[attr-defined]
    return run

# A suggester turns a ticket's text into (unit_id, confidence, payload) or None.
Suggester = Callable[[str], "tuple[int | None, float, dict[str, Any]] | None"]


class UnitOfWork(AbstractContextManager):
    """One transaction. Events added during it are published only after a successful commit."""

    def __init__(self, hotline: "Hotline", readonly: bool = False) -> None:
        self.hotline = hotline
        self.readonly = readonly
        self.events: list[Event] = []

    def __enter__(self) -> "UnitOfWork":
        factory = self.hotline.read_session_factory if self.readonly else self.hotline.session_factory
        self.session: Session = factory()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        # close() alone ends an uncommitted transaction without expiring the objects read in it,
        # so a read returns models that stay usable after the block; on an error roll back first.
        if exc_type is not None:
            self.session.rollback()
        self.session.close()
        if isinstance(exc, StaleDataError):  # the version check failed at a flush inside the block
            raise Conflict("记录已被他人修改，请刷新后重试") from exc

    def add_event(self, event: Event) -> None:
        self.events.append(event)

    def commit(self) -> None:
        try:
            self.session.commit()
        except StaleDataError as e:
            self.session.rollback()
            raise Conflict("记录已被他人修改，请刷新后重试") from e
        except IntegrityError as e:
            self.session.rollback()
            # The database's own text names tables and values: it goes to the log, not the client.
            log.warning("integrity error at commit: %s", str(e.orig)[:300])
            raise Conflict("数据冲突：记录已存在或已被他人修改") from e
        events, self.events = self.events, []
        self.hotline.bus.publish(events)


class Hotline:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        bus: MessageBus | None = None,
        time_limits: TimeLimits | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.clock = clock or SystemClock(self.settings.timezone)
        self.bus = bus or MessageBus()
        if time_limits is None:
            time_limits = (
                TimeLimits.from_file(self.settings.time_limits_file)
                if self.settings.time_limits_file
                else TimeLimits.default()
            )
        self.time_limits = time_limits
        self.engine = make_engine(self.settings.database_url)
        self.session_factory = make_session_factory(self.engine)
        self.read_session_factory = make_session_factory(self.engine, readonly=True)
        self.calendar = WorkCalendar(loader=self._load_overrides)
        self.suggester: Suggester | None = None

        from hotline.callcenter import CallService
        from hotline.directory import DirectoryService
        from hotline.queries import TicketQueries
        from hotline.workflow import TicketService

        self.tickets = TicketService(self)
        self.queries = TicketQueries(self)
        self.directory = DirectoryService(self)
        self.calls = CallService(self)

    @classmethod
    def from_env(cls, **kw: Any) -> "Hotline":
        return cls(Settings.from_env(), **kw)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(self, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(self, readonly=readonly)

    def now(self):  # noqa: ANN201
        return self.clock.now()

    def _load_overrides(self) -> dict:
        with self.read_session_factory() as s:
            return {o.day: o.is_workday for o in s.scalars(select(CalendarOverride))}

    def dispose(self) -> None:
        self.engine.dispose()
