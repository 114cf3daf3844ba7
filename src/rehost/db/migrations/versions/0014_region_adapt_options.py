"""regions.adapt_engine (rehost or virt-v2v) and regions.keep_static_network

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("regions") as batch:
        batch.add_column(sa.Column("adapt_engine", sa.String(16), nullable=False,
                                   server_default="rehost"))
        batch.add_column(sa.Column("keep_static_network", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("regions") as batch:
        batch.drop_column("keep_static_network")
        batch.drop_column("adapt_engine")
