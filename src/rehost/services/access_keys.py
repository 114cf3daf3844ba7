"""AccessKeys of users: create (secret shown once), list, disable, enable, delete, last use."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from rehost.db import convert
from rehost.db.tables import AccessKeyRow, UserRow
from rehost.domain import errors
from rehost.domain.ids import AccessKeyId, AccountId
from rehost.domain.models import AccessKey, NewAccessKey
from rehost.services import crypto
from rehost.services.context import ServiceContext, random_suffix

# last_used_at is written at most once a minute per key: not a write per request
LAST_USED_RESOLUTION: Final = timedelta(minutes=1)


def _secret(ctx: ServiceContext, key_id: str, salt: str) -> str:
    return crypto.derive(ctx.master_key, "ak", key_id, salt)


def key_secret(ctx: ServiceContext, row: AccessKeyRow) -> str:
    """Re-derive an AccessKey's secret from the master key."""
    return _secret(ctx, AccessKeyId(row.id), row.salt)


def add_key(session: Session, ctx: ServiceContext, user: UserRow) -> NewAccessKey:
    """Insert a key of `user` in the caller's transaction; the secret is returned once."""
    key_id = "RH" + random_suffix(22).upper()
    salt = crypto.new_salt()
    secret = _secret(ctx, key_id, salt)
    row = AccessKeyRow(
        id=key_id, account_id=user.account_id, user_id=user.id, salt=salt,
        secret_hash=crypto.sha256_hex(secret), enabled=True, created_at=ctx.now(),
    )
    session.add(row)
    return NewAccessKey(key=convert.access_key(row), secret=secret)


def create_key(ctx: ServiceContext, account_id: AccountId, user_id: str) -> NewAccessKey:
    """A new AccessKey for a user of the account."""
    with ctx.db.transaction() as session:
        user = session.get(UserRow, user_id)
        if user is None or user.account_id != account_id:
            raise errors.not_found("User", user_id)
        return add_key(session, ctx, user)


def list_keys(ctx: ServiceContext, account_id: AccountId, *,
              user_id: str | None = None) -> list[AccessKey]:
    """The account's AccessKeys (or one user's), without secrets, oldest first."""
    query = select(AccessKeyRow).where(AccessKeyRow.account_id == account_id)
    if user_id is not None:
        query = query.where(AccessKeyRow.user_id == user_id)
    with ctx.db.read() as session:
        rows = session.scalars(query.order_by(AccessKeyRow.created_at, AccessKeyRow.id))
        return [convert.access_key(r) for r in rows]


def not_found(key_id: str) -> errors.NotFound:
    """`InvalidAccessKeyId.NotFound`."""
    return errors.not_found("AccessKey", key_id)


def _row(session: Session, account_id: AccountId, key_id: str) -> AccessKeyRow:
    row = session.get(AccessKeyRow, key_id)
    if row is None or row.account_id != account_id:
        raise not_found(key_id)
    return row


def get_key(ctx: ServiceContext, account_id: AccountId, key_id: str) -> AccessKey:
    """One AccessKey of the account."""
    with ctx.db.read() as session:
        return convert.access_key(_row(session, account_id, key_id))


def set_enabled(ctx: ServiceContext, account_id: AccountId, key_id: str, *,
                enabled: bool) -> AccessKey:
    """Disable or enable a key; a disabled key is refused from the next request on."""
    with ctx.db.transaction() as session:
        row = _row(session, account_id, key_id)
        row.enabled = enabled
        return convert.access_key(row)


def delete_key(ctx: ServiceContext, account_id: AccountId, key_id: str) -> None:
    """Delete a key for good."""
    with ctx.db.transaction() as session:
        session.delete(_row(session, account_id, key_id))


def use_is_stale(last_used_at: datetime | None, *, now: datetime) -> bool:
    """Whether the recorded last use is older than its resolution (so worth a write)."""
    return last_used_at is None or last_used_at < now - LAST_USED_RESOLUTION


def record_use(ctx: ServiceContext, key_id: str) -> None:
    """Remember when the key was last used (to the minute)."""
    now = ctx.now()
    with ctx.db.transaction() as session:
        session.execute(
            update(AccessKeyRow).where(AccessKeyRow.id == key_id).where(or_(
                AccessKeyRow.last_used_at.is_(None),
                AccessKeyRow.last_used_at < now - LAST_USED_RESOLUTION,
            )).values(last_used_at=now)
        )
