"""jobs.adapt_guests and jobs.keep_static_network: per-job overrides (NULL = the region's)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("adapt_guests", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("keep_static_network", sa.Boolean(), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("keep_static_network")
        batch.drop_column("adapt_guests")
