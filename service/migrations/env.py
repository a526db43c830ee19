"""Alembic environment: runs on the connection the service hands over, or on a URL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from service.store import metadata

config = context.config


def run() -> None:
    """Run the migrations online (this service has no use for offline SQL scripts)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


run()
