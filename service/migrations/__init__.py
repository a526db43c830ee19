"""Alembic migrations of the service's database; :func:`upgrade` runs them on start-up.

The same scripts run from the command line with ``alembic`` (``script_location`` is this
folder, ``sqlalchemy.url`` the database URL), but the service never needs that: it brings
the schema up to date itself, under a lock, each time it starts.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent


def config() -> Config:
    """An Alembic configuration pointing at these migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` in one transaction, one migrator at a time."""
    cfg = config()
    writer = engine.execution_options(sqlite_immediate=True)
    with writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two services starting at once must not both create the tables.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7310461)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
