"""jobs: incremental replication (run_once, frequency_hours, max_images_to_keep, cycle)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("run_once", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("frequency_hours", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("max_images_to_keep", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("cycle", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_cycle_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("jobs") as batch:
        for name in ("next_cycle_at", "cycle", "max_images_to_keep", "frequency_hours",
                     "run_once"):
            batch.drop_column(name)
