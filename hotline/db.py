"""Engine, session factory and the declarative base that every model shares.

SQLite is the embedded default (WAL, foreign keys on, a busy timeout so several threads and the
SIP/scheduler processes can share the file); PostgreSQL is production, chosen by ``DATABASE_URL``.
The schema itself comes only from the Alembic migrations in ``migrations/``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

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


def make_engine(url: str, **kw: Any) -> Engine:
    # A statement's parameters are callers' numbers and complaints: an error message or a
    # traceback must never carry them into a log.
    kw.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        from hotline.files import prepare_sqlite_file

        prepare_sqlite_file(url)
        kw.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kw)

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
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            # Read-only sessions (see make_session_factory) begin deferred: in WAL mode they
            # read a snapshot without waiting for writers.
            if conn.get_execution_options().get("hotline_readonly"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kw.setdefault("pool_pre_ping", True)
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 20)
    return create_engine(url, **kw)


def make_session_factory(engine: Engine, readonly: bool = False) -> sessionmaker:
    bind = engine.execution_options(hotline_readonly=True) if readonly else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)
