"""transits.image_id: the image a transit host's build registered (the host keeps its files)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("transits") as batch:
        batch.add_column(sa.Column("image_id", sa.String(length=40), nullable=True))
        batch.create_index("ix_transits_image_id", ["image_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("transits") as batch:
        batch.drop_index("ix_transits_image_id")
        batch.drop_column("image_id")
