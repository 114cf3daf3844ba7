"""regions.verify_after_migration: boot-verify every image built in the region

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("regions") as batch:
        batch.add_column(sa.Column("verify_after_migration", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("regions") as batch:
        batch.drop_column("verify_after_migration")
