"""users with roles; access_keys.user_id + last_used_at; console_sessions.user_id

Every existing account gets its owner user (named as the account, role admin, the account's
password), and its keys and sessions are the owner's.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _create_users() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("account_id", sa.String(length=40), sa.ForeignKey("accounts.id"),
                  nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("owner", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("account_id", "name", name="uq_users_account_name"),
    )
    op.create_index("ix_users_account_id", "users", ["account_id"])


def _owners() -> None:
    # the owner's id is derived from the account's, so keys and sessions find it in SQL
    op.execute(
        "INSERT INTO users (id, account_id, name, role, password_hash, owner, created_at) "
        "SELECT 'u-' || id, id, substr(name, 1, 64), 'admin', password_hash, "
        + ("true" if op.get_bind().dialect.name == "postgresql" else "1")
        + ", created_at FROM accounts"
    )
    op.execute("UPDATE access_keys SET user_id = 'u-' || account_id")
    op.execute("UPDATE console_sessions SET user_id = 'u-' || account_id")


def upgrade() -> None:
    """Apply."""
    _create_users()
    with op.batch_alter_table("access_keys") as batch:
        batch.add_column(sa.Column("user_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("user_id", sa.String(length=40), nullable=False,
                                   server_default=""))
    _owners()
    with op.batch_alter_table("access_keys") as batch:
        batch.alter_column("user_id", existing_type=sa.String(length=40), nullable=False)
        batch.create_foreign_key("fk_access_keys_user_id", "users", ["user_id"], ["id"])
        batch.create_index("ix_access_keys_user_id", ["user_id"])


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("access_keys") as batch:
        batch.drop_index("ix_access_keys_user_id")
        batch.drop_constraint("fk_access_keys_user_id", type_="foreignkey")
        batch.drop_column("last_used_at")
        batch.drop_column("user_id")
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_column("user_id")
    op.drop_index("ix_users_account_id", table_name="users")
    op.drop_table("users")
