"""regions.adapt_guests: OS-adapt Linux guests (libguestfs) before publishing; off by default

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("regions") as batch:
        batch.add_column(sa.Column("adapt_guests", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("regions") as batch:
        batch.drop_column("adapt_guests")
