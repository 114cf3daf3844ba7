"""Accounts and their AccessKeys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rehost.db import convert
from rehost.db.tables import AccessKeyRow, AccountRow
from rehost.domain import errors
from rehost.domain.ids import PREFIX_ACCOUNT, AccessKeyId, AccountId
from rehost.domain.models import AccessKey, Account, NewAccessKey
from rehost.services import crypto, regions
from rehost.services.context import ServiceContext, random_suffix


def create_account(ctx: ServiceContext, *, name: str, password: str) -> Account:
    """Create an account (with its `local` region)."""
    if not 2 <= len(name) <= 64 or len(password) < 8:
        raise errors.invalid(
            "AccountName", "Account names are 2–64 characters; passwords at least 8.",
            "账号名须为 2–64 个字符；密码至少 8 个字符。",
        )
    row = AccountRow(
        id=ctx.new_id(PREFIX_ACCOUNT), name=name, password_hash=crypto.hash_password(password),
        created_at=ctx.now(),
    )
    try:
        with ctx.db.transaction() as session:
            session.add(row)
    except IntegrityError as exc:
        raise errors.Duplicate(
            "AccountName.Duplicate", f"An account named {name!r} already exists.",
            f"账号 {name!r} 已存在。",
        ) from exc
    regions.ensure_local_region(ctx, AccountId(row.id))
    return convert.account(row)


def _secret(ctx: ServiceContext, key_id: str, salt: str) -> str:
    return crypto.derive(ctx.master_key, "ak", key_id, salt)


def create_access_key(ctx: ServiceContext, account_id: AccountId) -> NewAccessKey:
    """Create an AccessKey; the returned secret is shown once (re-derivable by the server)."""
    key_id = "RH" + random_suffix(22).upper()
    salt = crypto.new_salt()
    secret = _secret(ctx, key_id, salt)
    row = AccessKeyRow(
        id=key_id, account_id=account_id, salt=salt, secret_hash=crypto.sha256_hex(secret),
        enabled=True, created_at=ctx.now(),
    )
    with ctx.db.transaction() as session:
        if session.get(AccountRow, account_id) is None:
            raise errors.not_found("Account", account_id)
        session.add(row)
    return NewAccessKey(key=convert.access_key(row), secret=secret)


def list_access_keys(ctx: ServiceContext, account_id: AccountId) -> list[AccessKey]:
    """The account's AccessKeys (without secrets)."""
    with ctx.db.read() as session:
        rows = session.scalars(
            select(AccessKeyRow).where(AccessKeyRow.account_id == account_id)
            .order_by(AccessKeyRow.created_at)
        )
        return [convert.access_key(r) for r in rows]


def key_secret(ctx: ServiceContext, row: AccessKeyRow) -> str:
    """Re-derive an AccessKey's secret from the master key."""
    return _secret(ctx, AccessKeyId(row.id), row.salt)
