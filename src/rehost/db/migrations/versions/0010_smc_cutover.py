"""jobs.cutover_pending: an incremental job's running cycle is its cut-over (ends Finished)

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("cutover_pending", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("cutover_pending")
