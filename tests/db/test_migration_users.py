"""Migration 0012 on a database made before users: each account's owner, its keys, its login."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from rehost.config import Settings
from rehost.db.engine import Database
from rehost.db.migrate import upgrade
from rehost.domain.authz import Role
from rehost.services import auth, crypto
from rehost.services.access_keys import LAST_USED_RESOLUTION
from rehost.services.context import ServiceContext


def test_accounts_before_users_keep_their_admin(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0011")
    now = datetime(2026, 11, 1, tzinfo=UTC).replace(tzinfo=None)
    ctx = ServiceContext(db=db, settings=Settings(data_dir=tmp_path), master_key=b"m" * 32)
    secret = crypto.derive(ctx.master_key, "ak", "RHOLD", "salt")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts VALUES ('acc-old', 'admin', :p, :t)"),
                     {"p": crypto.hash_password("old-password"), "t": now})
        conn.execute(text("INSERT INTO access_keys (id, account_id, salt, secret_hash, enabled,"
                          " created_at) VALUES ('RHOLD', 'acc-old', 'salt', :h, 1, :t)"),
                     {"h": crypto.sha256_hex(secret), "t": now})
    upgrade(db)
    who = auth.verify_basic(ctx, "RHOLD", secret)
    assert (who.account_id, who.user_name, who.role) == ("acc-old", "admin", Role.ADMIN)
    assert auth.login(ctx, "admin", "old-password").user_id == who.user_id
    assert auth.login(ctx, "admin@admin", "old-password").user_id == who.user_id
    with db.engine.connect() as conn:
        owner = conn.execute(text("SELECT owner FROM users WHERE id = :u"),
                             {"u": who.user_id}).scalar_one()
        used = conn.execute(text("SELECT last_used_at FROM access_keys")).scalar_one()
    assert owner and used is not None and LAST_USED_RESOLUTION.total_seconds() == 60
    db.engine.dispose()
