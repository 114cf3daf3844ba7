"""Users inside an account: create, list, change role, delete, passwords (own and reset)."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rehost.db.tables import AccessKeyRow, ConsoleSessionRow, UserRow
from rehost.domain import errors
from rehost.domain.authz import Role
from rehost.domain.ids import PREFIX_USER, AccountId, UserId
from rehost.domain.users import User, check_password, check_user_name, owner_protected
from rehost.services import crypto
from rehost.services.context import ServiceContext


def to_user(row: UserRow) -> User:
    """UserRow → User."""
    return User(
        id=UserId(row.id), account_id=AccountId(row.account_id), name=row.name,
        role=Role(row.role), owner=row.owner, created_at=row.created_at,
        password_changed_at=row.password_changed_at,
    )


def _duplicate(name: str) -> errors.Duplicate:
    return errors.Duplicate(
        "UserName.Duplicate", f"A user named {name!r} already exists in this account.",
        f"本账号已有名为 {name!r} 的用户。",
    )


def add_user(session: Session, ctx: ServiceContext, *, account_id: AccountId, name: str,
             role: Role, password: str, owner: bool = False) -> UserRow:
    """Insert a user row in the caller's transaction (account creation uses it too)."""
    row = UserRow(
        id=ctx.new_id(PREFIX_USER), account_id=account_id, name=name, role=role.value,
        password_hash=crypto.hash_password(check_password(password)), owner=owner,
        created_at=ctx.now(),
    )
    session.add(row)
    return row


def create_user(ctx: ServiceContext, account_id: AccountId, *, name: str, role: Role,
                password: str) -> User:
    """A new user of the account with a role and an initial password."""
    check_user_name(name)
    try:
        with ctx.db.transaction() as session:
            row = add_user(session, ctx, account_id=account_id, name=name, role=role,
                           password=password)
            session.flush()
            user = to_user(row)
    except IntegrityError as exc:
        raise _duplicate(name) from exc
    return user


def _row(session: Session, account_id: AccountId, user_id: str) -> UserRow:
    row = session.get(UserRow, user_id)
    if row is None or row.account_id != account_id:
        raise errors.not_found("User", user_id)
    return row


def get_user(ctx: ServiceContext, account_id: AccountId, user_id: str) -> User:
    """One user of the account."""
    with ctx.db.read() as session:
        return to_user(_row(session, account_id, user_id))


def list_users(ctx: ServiceContext, account_id: AccountId) -> list[User]:
    """The account's users, oldest first."""
    with ctx.db.read() as session:
        rows = session.scalars(select(UserRow).where(UserRow.account_id == account_id)
                               .order_by(UserRow.created_at, UserRow.name))
        return [to_user(r) for r in rows]


def set_role(ctx: ServiceContext, account_id: AccountId, user_id: str, role: Role) -> User:
    """Change a user's role (the owner stays admin); it applies to the next request."""
    with ctx.db.transaction() as session:
        row = _row(session, account_id, user_id)
        if row.owner and role is not Role.ADMIN:
            raise owner_protected(to_user(row), "demoted", "降级")
        row.role = role.value
        return to_user(row)


def delete_user(ctx: ServiceContext, account_id: AccountId, user_id: str) -> None:
    """Delete a user, its AccessKeys and its console sessions (refused at once)."""
    with ctx.db.transaction() as session:
        row = _row(session, account_id, user_id)
        if row.owner:
            raise owner_protected(to_user(row), "deleted", "删除")
        session.execute(delete(AccessKeyRow).where(AccessKeyRow.user_id == row.id))
        session.execute(update(ConsoleSessionRow).where(ConsoleSessionRow.user_id == row.id)
                        .values(revoked_at=ctx.now()))
        session.delete(row)


def _wrong_password() -> errors.InvalidParameter:
    return errors.invalid(
        "OldPassword", "The current password is wrong; type your current password again.",
        "当前密码不正确；请重新输入当前密码。",
    )


def change_password(ctx: ServiceContext, account_id: AccountId, user_id: str, *,
                    old_password: str, new_password: str) -> User:
    """The user changes its own password (the current one is required)."""
    check_password(new_password)
    with ctx.db.read() as session:
        current = _row(session, account_id, user_id).password_hash
    if not crypto.check_password(old_password, current):
        raise _wrong_password()
    return reset_password(ctx, account_id, user_id, new_password=new_password)


def reset_password(ctx: ServiceContext, account_id: AccountId, user_id: str, *,
                   new_password: str) -> User:
    """Set a user's password (admin-side reset, or after `change_password`'s check)."""
    password_hash = crypto.hash_password(check_password(new_password))
    with ctx.db.transaction() as session:
        row = _row(session, account_id, user_id)
        row.password_hash, row.password_changed_at = password_hash, ctx.now()
        return to_user(row)
