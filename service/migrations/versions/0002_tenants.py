"""A row per tenant (the lock that makes per-tenant limits exact, the fair queue's turn) and
the readiness probe's rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``tenants`` (a row for every tenant with jobs already) and ``probes``."""
    op.create_table(
        "tenants",
        sa.Column("tenant", sa.String(100), primary_key=True),
        sa.Column("last_claimed_at", sa.Float, nullable=True),
    )
    op.execute("INSERT INTO tenants (tenant, last_claimed_at) "
               "SELECT tenant, MAX(started_at) FROM jobs GROUP BY tenant")
    op.create_table(
        "probes",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("probes")
    op.drop_table("tenants")
