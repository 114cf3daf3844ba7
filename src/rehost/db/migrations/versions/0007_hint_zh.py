"""jobs.error_hint_zh and job_events.hint_zh: the fix hint in Chinese

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("error_hint_zh", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("job_events") as batch:
        batch.add_column(sa.Column("hint_zh", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("job_events") as batch:
        batch.drop_column("hint_zh")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("error_hint_zh")
