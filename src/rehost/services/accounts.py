"""Accounts (tenants): each is created with its owner user (admin) and `local` region."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rehost.db import convert
from rehost.db.tables import AccountRow, UserRow
from rehost.domain import errors
from rehost.domain.authz import Role
from rehost.domain.ids import PREFIX_ACCOUNT, AccountId
from rehost.domain.models import AccessKey, Account, NewAccessKey
from rehost.services import access_keys, regions, users
from rehost.services.context import ServiceContext


def _check_name(name: str) -> None:
    if not 2 <= len(name) <= 64 or "@" in name:
        raise errors.invalid(
            "AccountName", "Account names are 2–64 characters, without '@'.",
            "账号名须为 2–64 个字符，且不含 '@'。",
        )


def create_account(ctx: ServiceContext, *, name: str, password: str) -> Account:
    """Create an account, its owner user (named as the account, admin) and `local` region."""
    _check_name(name)
    row = AccountRow(id=ctx.new_id(PREFIX_ACCOUNT), name=name, created_at=ctx.now())
    try:
        with ctx.db.transaction() as session:
            session.add(row)
            session.flush()
            users.add_user(session, ctx, account_id=AccountId(row.id), name=name,
                           role=Role.ADMIN, password=password, owner=True)
    except IntegrityError as exc:
        raise errors.Duplicate(
            "AccountName.Duplicate", f"An account named {name!r} already exists.",
            f"账号 {name!r} 已存在。",
        ) from exc
    regions.ensure_local_region(ctx, AccountId(row.id))
    return convert.account(row)


def get_account(ctx: ServiceContext, account_id: AccountId) -> Account:
    """One account."""
    with ctx.db.read() as session:
        row = session.get(AccountRow, account_id)
        if row is None:
            raise errors.not_found("Account", account_id)
        return convert.account(row)


def create_access_key(ctx: ServiceContext, account_id: AccountId) -> NewAccessKey:
    """A new AccessKey of the account's owner (first-start admin, tests)."""
    with ctx.db.transaction() as session:
        owner = session.scalars(select(UserRow).where(UserRow.account_id == account_id)
                                .where(UserRow.owner.is_(True))).first()
        if owner is None:
            raise errors.not_found("Account", account_id)
        return access_keys.add_key(session, ctx, owner)


def list_access_keys(ctx: ServiceContext, account_id: AccountId) -> list[AccessKey]:
    """The account's AccessKeys (without secrets)."""
    return access_keys.list_keys(ctx, account_id)


key_secret = access_keys.key_secret  # kept here for callers of the pre-users API
