"""regions.image_format: raw (sparse) or qcow2 disk files for the region's images

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("regions") as batch:
        batch.add_column(sa.Column("image_format", sa.String(length=8), nullable=False,
                                   server_default="raw"))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("regions") as batch:
        batch.drop_column("image_format")
