"""Shared fixtures: a fresh database per test on SQLite and, when reachable, on PostgreSQL.

PostgreSQL: HOTLINE_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres names
the server); a database of this run's own is created, migrated once, and emptied between tests.
Set HOTLINE_TEST_DATABASES=sqlite to run on SQLite only.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text

from hotline.app import Hotline
from hotline.clock import FrozenClock
from hotline.config import Settings
from hotline.schema import upgrade
from hotline.users import configure_hasher

configure_hasher(time_cost=1, memory_cost=8, parallelism=1)

PG_SERVER = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DATABASES = [d for d in os.environ.get("HOTLINE_TEST_DATABASES", "sqlite,postgres").split(",") if d]


def _pg_available() -> bool:
    try:
        eng = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database():
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER}")
        pytest.skip("PostgreSQL not reachable")
    name = f"hotline_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_SERVER.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    from hotline.models import metadata

    eng = create_engine(url)
    with eng.begin() as c:
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        c.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def clock():
    # Monday 23 November 2026, 09:00: an ordinary working day.
    return FrozenClock(dt.datetime(2026, 11, 23, 9, 0))


@pytest.fixture
def settings(database_url, tmp_path):
    s = Settings()
    s.database_url = database_url
    s.data_dir = str(tmp_path / "data")
    s.model_path = str(tmp_path / "data" / "model.joblib")
    s.demo = False
    return s


@pytest.fixture
def hl(settings, clock):
    h = Hotline(settings, clock=clock)
    yield h
    h.dispose()
