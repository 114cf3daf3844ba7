"""Authentication: AccessKeys (REST Basic, SMC signer), console login, agent tokens."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select

from rehost.db.tables import AccessKeyRow, AccountRow, SourceRow, UserRow
from rehost.domain.authz import Principal, Role
from rehost.domain.errors import Unauthenticated
from rehost.domain.ids import AccountId, SourceId, UserId
from rehost.domain.states import SourceState
from rehost.services import access_keys, crypto
from rehost.services.context import ServiceContext


def _bad_key(key_id: str) -> Unauthenticated:
    return Unauthenticated(
        "InvalidAccessKeyId.NotFound",
        f"The AccessKey {key_id!r} does not exist or is disabled; check REHOST_ACCESS_KEY_ID.",
        f"AccessKey {key_id!r} 不存在或已禁用；请检查 REHOST_ACCESS_KEY_ID。",
    )


def _key_row(ctx: ServiceContext, key_id: str) -> AccessKeyRow:
    # read on every request, never cached: a disabled or deleted key is refused at once
    with ctx.db.read() as session:
        row = session.get(AccessKeyRow, key_id)
    if row is None or not row.enabled:
        raise _bad_key(key_id)
    return row


def _principal(ctx: ServiceContext, row: AccessKeyRow) -> Principal:
    with ctx.db.read() as session:
        user = session.get(UserRow, row.user_id)
    if user is None:
        raise _bad_key(row.id)
    if access_keys.use_is_stale(row.last_used_at, now=ctx.now()):  # no write per request
        access_keys.record_use(ctx, row.id)
    return Principal(account_id=AccountId(user.account_id), user_id=UserId(user.id),
                     user_name=user.name, role=Role(user.role))


def verify_basic(ctx: ServiceContext, key_id: str, secret: str) -> Principal:
    """Check an AccessKeyId + secret pair; return who it is (account, user, role)."""
    row = _key_row(ctx, key_id)
    if not crypto.equal(crypto.sha256_hex(secret), row.secret_hash):
        raise Unauthenticated(
            "InvalidAccessKeySecret",
            "The AccessKey secret is wrong; check REHOST_ACCESS_KEY_SECRET.",
            "AccessKey Secret 不正确；请检查 REHOST_ACCESS_KEY_SECRET。",
        )
    return _principal(ctx, row)


def derive_secret(ctx: ServiceContext, key_id: str) -> str:
    """The AccessKey's secret, for verifying ACS3-HMAC-SHA256 signatures."""
    return access_keys.key_secret(ctx, _key_row(ctx, key_id))


def principal_of_key(ctx: ServiceContext, key_id: str) -> Principal:
    """Who an enabled AccessKey belongs to (after its signature was checked)."""
    return _principal(ctx, _key_row(ctx, key_id))


def account_of_key(ctx: ServiceContext, key_id: str) -> AccountId:
    """The account an enabled AccessKey belongs to."""
    return principal_of_key(ctx, key_id).account_id


@cache
def _dummy_hash() -> str:
    # an unknown user name is checked against this hash so that it costs one scrypt too
    return crypto.hash_password("rehost-no-such-account")


def _login_row(ctx: ServiceContext, name: str) -> UserRow | None:
    """`account` logs in its owner, `user@account` a user of that account."""
    user_name, _, account_name = name.partition("@")
    with ctx.db.read() as session:
        query = select(UserRow).join(AccountRow, AccountRow.id == UserRow.account_id)
        if account_name:
            query = query.where(AccountRow.name == account_name, UserRow.name == user_name)
        else:
            query = query.where(AccountRow.name == name, UserRow.owner.is_(True))
        return session.scalars(query).first()


def login(ctx: ServiceContext, name: str, password: str) -> Principal:
    """Check a console login (`account` or `user@account`) + password; return who it is."""
    row = _login_row(ctx, name)
    matches = crypto.check_password(password, row.password_hash if row else _dummy_hash())
    if row is None or not matches:
        raise Unauthenticated(
            "InvalidCredentials", "Wrong account name or password.", "账号名或密码错误。"
        )
    return Principal(account_id=AccountId(row.account_id), user_id=UserId(row.id),
                     user_name=row.name, role=Role(row.role))


def verify_agent_token(ctx: ServiceContext, token: str) -> tuple[AccountId, SourceId]:
    """Check an agent bearer token; return the source's account and id."""
    with ctx.db.read() as session:
        row = session.scalars(
            select(SourceRow).where(SourceRow.agent_token_hash == crypto.sha256_hex(token))
        ).first()
    if row is None or row.state == SourceState.DELETING:
        raise bad_agent_token()
    return AccountId(row.account_id), SourceId(row.id)


def bad_agent_token() -> Unauthenticated:
    """The error for an unknown agent token."""
    return Unauthenticated(
        "InvalidAgentToken",
        "The agent token is unknown (the source was deleted?); import the source again.",
        "客户端令牌无效（迁移源已删除？）；请重新导入迁移源。",
    )
