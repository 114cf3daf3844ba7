"""Authentication: AccessKeys (REST Basic, SMC signer), console login, agent tokens."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select

from rehost.db.tables import AccessKeyRow, AccountRow, SourceRow
from rehost.domain.errors import Unauthenticated
from rehost.domain.ids import AccountId, SourceId
from rehost.domain.states import SourceState
from rehost.services import crypto
from rehost.services.accounts import key_secret
from rehost.services.context import ServiceContext


def _bad_key(key_id: str) -> Unauthenticated:
    return Unauthenticated(
        "InvalidAccessKeyId.NotFound",
        f"The AccessKey {key_id!r} does not exist or is disabled; check REHOST_ACCESS_KEY_ID.",
        f"AccessKey {key_id!r} 不存在或已禁用；请检查 REHOST_ACCESS_KEY_ID。",
    )


def _key_row(ctx: ServiceContext, key_id: str) -> AccessKeyRow:
    with ctx.db.read() as session:
        row = session.get(AccessKeyRow, key_id)
    if row is None or not row.enabled:
        raise _bad_key(key_id)
    return row


def verify_basic(ctx: ServiceContext, key_id: str, secret: str) -> AccountId:
    """Check an AccessKeyId + secret pair; return its account."""
    row = _key_row(ctx, key_id)
    if not crypto.equal(crypto.sha256_hex(secret), row.secret_hash):
        raise Unauthenticated(
            "InvalidAccessKeySecret",
            "The AccessKey secret is wrong; check REHOST_ACCESS_KEY_SECRET.",
            "AccessKey Secret 不正确；请检查 REHOST_ACCESS_KEY_SECRET。",
        )
    return AccountId(row.account_id)


def derive_secret(ctx: ServiceContext, key_id: str) -> str:
    """The AccessKey's secret, for verifying ACS3-HMAC-SHA256 signatures."""
    return key_secret(ctx, _key_row(ctx, key_id))


def account_of_key(ctx: ServiceContext, key_id: str) -> AccountId:
    """The account an enabled AccessKey belongs to."""
    return AccountId(_key_row(ctx, key_id).account_id)


@cache
def _dummy_hash() -> str:
    # an unknown account name is checked against this hash so that it costs one scrypt too
    return crypto.hash_password("rehost-no-such-account")


def login(ctx: ServiceContext, name: str, password: str) -> AccountId:
    """Check account name + password (console); return the account id."""
    with ctx.db.read() as session:
        row = session.scalars(select(AccountRow).where(AccountRow.name == name)).first()
    matches = crypto.check_password(password, row.password_hash if row else _dummy_hash())
    if row is None or not matches:
        raise Unauthenticated(
            "InvalidCredentials", "Wrong account name or password.", "账号名或密码错误。"
        )
    return AccountId(row.id)


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
