"""Create or upgrade the database schema, always through the Alembic migrations."""
from __future__ import annotations

import fcntl

from alembic import command
from alembic.config import Config

from hotline.config import ROOT


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    # ConfigParser interpolation would choke on '%' in a password; escape it.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate to ``revision``. Processes started together (``run.py`` and ``run.py sip``, several
    web workers) take turns: on SQLite through a lock file beside the database, on PostgreSQL
    through an advisory lock taken in ``migrations/env.py``; the second finds nothing left to do."""
    from hotline.files import prepare_sqlite_file, sqlite_path

    path = sqlite_path(database_url)
    if path is None:
        command.upgrade(alembic_config(database_url), revision)
        return
    prepare_sqlite_file(database_url)  # owner-only, in its folder
    with open(path.with_name(path.name + ".migrate-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            command.upgrade(alembic_config(database_url), revision)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def wipe(engine) -> None:  # noqa: ANN001
    """Empty every application table (the schema stays): what a half-written demo city leaves
    behind is removed before the demo is written again.

    The event log refuses DELETE through its triggers (it is append-only); on SQLite they are set
    aside for the wipe and put back exactly as they were, on PostgreSQL TRUNCATE does not fire them.
    """
    from sqlalchemy import text

    from hotline.models import metadata

    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            return
        conn.execute(text("PRAGMA defer_foreign_keys = ON"))  # tickets and calls refer to each other
        triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
        for name, _sql in triggers:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        for t in tables:
            conn.execute(text(f'DELETE FROM "{t}"'))
        for _name, sql in triggers:
            conn.execute(text(sql))
