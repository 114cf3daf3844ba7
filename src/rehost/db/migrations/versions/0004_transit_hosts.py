"""transit_hosts: `rehost transit` processes of a region; transits.host_id

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "transit_hosts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("data_endpoint", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("transit_hosts") as batch:
        batch.create_index("ix_transit_hosts_region", ["account_id", "region_id"], unique=False)
    with op.batch_alter_table("transits") as batch:
        batch.add_column(sa.Column("host_id", sa.String(length=40), nullable=True))
        batch.create_index("ix_transits_host_id", ["host_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("transits") as batch:
        batch.drop_index("ix_transits_host_id")
        batch.drop_column("host_id")
    op.drop_table("transit_hosts")
