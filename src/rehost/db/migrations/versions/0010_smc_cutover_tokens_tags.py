"""jobs.cutover_pending (the running cycle is the cut-over); client_tokens, tags, workgroups

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("cutover_pending", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "client_tokens",
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("action", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("params_digest", sa.String(64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_client_tokens_created_at", "client_tokens", ["created_at"])
    op.create_table(
        "tags",
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("resource_type", sa.String(32), primary_key=True),
        sa.Column("resource_id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )
    op.create_table(
        "workgroups",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_workgroups_account_id", "workgroups", ["account_id"])
    op.create_table(
        "workgroup_sources",
        sa.Column("workgroup_id", sa.String(40), sa.ForeignKey("workgroups.id"),
                  primary_key=True),
        sa.Column("source_id", sa.String(40), primary_key=True),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("workgroup_sources")
    op.drop_index("ix_workgroups_account_id", table_name="workgroups")
    op.drop_table("workgroups")
    op.drop_table("tags")
    op.drop_index("ix_client_tokens_created_at", table_name="client_tokens")
    op.drop_table("client_tokens")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("cutover_pending")
