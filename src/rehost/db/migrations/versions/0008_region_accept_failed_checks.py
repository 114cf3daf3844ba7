"""regions.accept_failed_checks: publish images whose hard checks fail, with a warning

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("regions") as batch:
        batch.add_column(sa.Column("accept_failed_checks", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("regions") as batch:
        batch.drop_column("accept_failed_checks")
