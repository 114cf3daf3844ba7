"""Console login: backoff per account name and per address, server-side sessions, logout.

State lives in the database (login_failures, console_sessions), not in the process: the API
may run as several replicas behind one address.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rehost.db.tables import ConsoleSessionRow, LoginFailureRow, UserRow
from rehost.domain import errors
from rehost.domain.authz import Principal, Role
from rehost.domain.ids import AccountId, UserId
from rehost.services import auth, crypto
from rehost.services.context import ServiceContext

FREE_FAILURES = 5  # failures allowed before any delay
MAX_DELAY_S = 900  # the delay doubles per failure up to 15 minutes
RESET_AFTER_S = 3600  # a failure an hour after the last one counts as the first again
SUBJECT_MAX = 200


def subjects(account_name: str, address: str) -> tuple[str, str]:
    """The two throttling keys of one attempt: the account name and the client address."""
    return (f"account:{account_name}"[:SUBJECT_MAX], f"address:{address}"[:SUBJECT_MAX])


def delay_s(failures: int) -> int:
    """Seconds to wait after `failures` consecutive failures (0 for the first five)."""
    if failures < FREE_FAILURES:
        return 0
    return int(min(2 ** (failures - FREE_FAILURES), MAX_DELAY_S))


def _throttled(wait_s: int) -> errors.Throttled:
    return errors.Throttled(
        "Throttling.Login",
        f"Too many failed logins; wait {wait_s} s and try again.",
        f"登录失败次数过多；请等待 {wait_s} 秒后重试。", retry_after_s=wait_s,
    )


def _check_allowed(session: Session, keys: tuple[str, ...], now: datetime) -> None:
    rows = session.scalars(select(LoginFailureRow).where(LoginFailureRow.subject.in_(keys)))
    wait_s = 0.0
    for row in rows:
        until = row.last_failed_at + timedelta(seconds=delay_s(row.failures))
        wait_s = max(wait_s, (until - now).total_seconds())
    if wait_s > 0:
        raise _throttled(int(wait_s) + 1)


def _record_failure(ctx: ServiceContext, keys: tuple[str, ...], now: datetime) -> None:
    with ctx.db.transaction() as session:
        for key in keys:
            row = session.get(LoginFailureRow, key, with_for_update=True)
            if row is None:
                session.add(LoginFailureRow(subject=key, failures=1, last_failed_at=now))
            else:
                fresh = (now - row.last_failed_at).total_seconds() > RESET_AFTER_S
                row.failures, row.last_failed_at = 1 if fresh else row.failures + 1, now


def login(ctx: ServiceContext, name: str, password: str, *, address: str) -> Principal:
    """Check name + password unless throttled; failures count against name and address."""
    keys, now = subjects(name, address), ctx.now()
    with ctx.db.read() as session:
        _check_allowed(session, keys, now)
    try:
        principal = auth.login(ctx, name, password)
    except errors.Unauthenticated:
        _record_failure(ctx, keys, now)
        raise
    with ctx.db.transaction() as session:
        session.execute(delete(LoginFailureRow).where(LoginFailureRow.subject == keys[0]))
    return principal


def open_session(ctx: ServiceContext, principal: Principal, *, ttl_s: int) -> str:
    """A new session id (kept hashed in the database) valid for `ttl_s` seconds."""
    session_id, now = secrets.token_urlsafe(24), ctx.now()
    with ctx.db.transaction() as session:
        session.add(ConsoleSessionRow(
            id=crypto.sha256_hex(session_id), account_id=principal.account_id,
            user_id=principal.user_id, created_at=now,
            expires_at=now + timedelta(seconds=ttl_s)))
    return session_id


def principal(ctx: ServiceContext, session_id: str, account_id: str) -> Principal | None:
    """Who an active session (not revoked, not expired) belongs to, with the role of now."""
    with ctx.db.read() as session:
        row = session.get(ConsoleSessionRow, crypto.sha256_hex(session_id))
        if (row is None or row.account_id != account_id or row.revoked_at is not None
                or row.expires_at <= ctx.now()):
            return None
        user = session.get(UserRow, row.user_id)
    if user is None or user.account_id != account_id:
        return None
    return Principal(account_id=AccountId(user.account_id), user_id=UserId(user.id),
                     user_name=user.name, role=Role(user.role))


def is_active(ctx: ServiceContext, session_id: str, account_id: str) -> bool:
    """Whether a session exists for this account, is not revoked and has not expired."""
    return principal(ctx, session_id, account_id) is not None


def revoke(ctx: ServiceContext, session_id: str) -> None:
    """End a session at once on every replica (logout)."""
    with ctx.db.transaction() as session:
        row = session.get(ConsoleSessionRow, crypto.sha256_hex(session_id))
        if row is not None and row.revoked_at is None:
            row.revoked_at = ctx.now()
