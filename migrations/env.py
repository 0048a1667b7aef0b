"""Alembic environment: the models in ``hotline`` are the single source of the schema."""
from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, text

from hotline.config import Settings
from hotline.models import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or os.environ.get("DATABASE_URL") or Settings.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url())
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Processes started together migrate one after the other (the lock ends with the
            # connection); SQLite's turn-taking is a lock file in hotline.schema.upgrade.
            connection.execute(text("SELECT pg_advisory_lock(12345)"))
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
