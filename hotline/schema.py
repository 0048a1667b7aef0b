"""Create or upgrade the database schema, always through the Alembic migrations."""
from __future__ import annotations

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
    from hotline.files import prepare_sqlite_file

    prepare_sqlite_file(database_url)  # owner-only, in its folder
    command.upgrade(alembic_config(database_url), revision)
