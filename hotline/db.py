"""Engine, session factory and the declarative base that every model shares.

SQLite is the embedded default (WAL, foreign keys on, a busy timeout so several threads and the
SIP/scheduler processes can share the file); PostgreSQL is production, chosen by ``DATABASE_URL``.
The schema itself comes only from the Alembic migrations in ``migrations/``.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from hotline.errors import Busy

log = logging.getLogger(__name__)

# Integer ids on SQLite (so INTEGER PRIMARY KEY autoincrements), 64-bit on PostgreSQL where a
# large city's call and event tables pass two billion rows over the years.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dt.datetime: DateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class WriteGate:
    """One writer at a time, first come first served: the embedded default's SQLite write lock as
    this process's threads see it.

    SQLite lets one transaction write at a time and makes the others poll (the busy handler sleeps
    1, 2, 5 … 100 ms between tries), so under load a waiting writer can lose every race to the
    ones that keep arriving: staff saw creations wait the full 30 s busy timeout and fail. Queueing
    the process's writers here, in order, before BEGIN IMMEDIATE, leaves SQLite's polling only for
    writers in other processes (``run.py sip``/``scheduler`` on the same file).
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held and not self._waiters:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ran out
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # straight to the next in line: nobody can cut in
            else:
                self._held = False


_GATES: dict[str, WriteGate] = {}
_GATES_LOCK = threading.Lock()
# How long a request may wait for the write lock before it is told the system is busy (a 503 the
# client may retry), and SQLite's own wait for a writer in another process.
WRITE_WAIT_SECONDS = 1.5
SQLITE_BUSY_MS = 1000
SLOW_WRITE_SECONDS = 0.5  # a write transaction held this long is logged: it stalls every writer


def _gate_for(url: str) -> WriteGate:
    with _GATES_LOCK:
        return _GATES.setdefault(url, WriteGate())


def _release_gate(dbapi_connection: Any) -> None:
    try:
        info = dbapi_connection.info  # the pool record's dict (a first-connect probe has none)
    except (AttributeError, NotImplementedError):
        return
    held = info.pop("hl_write_gate", None)
    if held is not None:
        gate, since = held
        gate.release()
        held_for = time.monotonic() - since
        if held_for > SLOW_WRITE_SECONDS:
            log.warning("a write transaction held the database for %.0f ms", held_for * 1000)


class HotlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite that gives the write gate back once COMMIT or ROLLBACK has really happened (the
    engine's commit/rollback events fire before them, which would let the next writer in early)."""

    supports_statement_cache = True

    def do_commit(self, dbapi_connection: Any) -> None:
        try:
            super().do_commit(dbapi_connection)
        finally:
            _release_gate(dbapi_connection)

    def do_rollback(self, dbapi_connection: Any) -> None:
        try:
            super().do_rollback(dbapi_connection)
        finally:
            _release_gate(dbapi_connection)


registry.register("sqlite.hotline", "hotline.db", "HotlineSQLiteDialect")


def is_retryable(exc: BaseException) -> bool:
    """A transaction that may simply be run again: SQLite busy, PostgreSQL serialization failure or
    deadlock."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) in ("40001", "40P01"):
        return True
    return "database is locked" in str(orig) or "database table is locked" in str(orig)


def make_engine(url: str, **kw: Any) -> Engine:
    # A statement's parameters are callers' numbers and complaints: an error message or a
    # traceback must never carry them into a log.
    kw.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        from hotline.files import prepare_sqlite_file

        prepare_sqlite_file(url)
        kw.setdefault("connect_args", {"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000})
        engine = create_engine(url.replace("sqlite://", "sqlite+hotline://", 1) if url.startswith("sqlite://") else url, **kw)
        gate = _gate_for(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # The sqlite3 module's own transaction handling is turned off so that BEGIN IMMEDIATE
            # below takes the write lock at the start of a transaction: two writers then queue
            # instead of one failing with "database is locked" half-way through.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            # Read-only sessions (see make_session_factory) begin deferred: in WAL mode they
            # read a snapshot without waiting for writers.
            if conn.get_execution_options().get("hotline_readonly"):
                conn.exec_driver_sql("BEGIN")
                return
            info = conn.connection.info
            if "hl_write_gate" not in info:
                if not gate.acquire(WRITE_WAIT_SECONDS):
                    raise Busy("系统繁忙：数据库写入排队超时，请稍后重试")
                info["hl_write_gate"] = (gate, time.monotonic())
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                _release_gate(conn.connection)
                raise

        @event.listens_for(engine, "checkin")
        def _sqlite_checkin(dbapi_conn, _record):  # noqa: ANN001
            # A connection back in the pool holds no transaction (and must hold no gate).
            _release_gate(_record)

        @event.listens_for(engine, "invalidate")
        def _sqlite_invalidate(_dbapi_conn, record, _exc):  # noqa: ANN001
            _release_gate(record)

        return engine
    kw.setdefault("pool_pre_ping", True)
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 20)
    return create_engine(url, **kw)


def make_session_factory(engine: Engine, readonly: bool = False) -> sessionmaker:
    bind = engine.execution_options(hotline_readonly=True) if readonly else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)
