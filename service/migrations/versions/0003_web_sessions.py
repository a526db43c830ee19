"""The workspace's sign-in sessions (:mod:`service.web.sessions`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``web_sessions``: one row per signed-in browser, named by the SHA-256 of its
    cookie's token, ended at sign-out."""
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("credential_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
    )
    op.create_index("ix_web_sessions_tenant", "web_sessions", ["tenant"])


def downgrade() -> None:
    """Drop it (every session ends)."""
    op.drop_index("ix_web_sessions_tenant", table_name="web_sessions")
    op.drop_table("web_sessions")
