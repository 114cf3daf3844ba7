"""Host registration codes: the credential a `rehost transit` host registers with (one use).

An account creates a code for one region and one host name; the host that redeems it gets a
token and a TLS certificate for that name only. An AccessKey alone never yields a certificate.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rehost.db.tables import HostCodeRow
from rehost.domain import errors
from rehost.domain.ids import AccountId
from rehost.services import crypto, lookup
from rehost.services.context import ServiceContext

PREFIX_HOST_CODE = "hc"
TTL_HOURS_DEFAULT, TTL_HOURS_MAX = 24, 24 * 30
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class HostCode:
    """A registration code without its secret."""

    id: str
    region_id: str
    host_name: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    host_id: str | None


@dataclass(frozen=True, slots=True)
class NewHostCode:
    """A fresh code and its secret (shown once)."""

    code: HostCode
    secret: str


def check_host_name(name: str) -> str:
    """A DNS name or an IP address (what the certificate will name), lower-cased."""
    name = name.strip().lower()
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        pass
    labels = name.rstrip(".").split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise errors.invalid(
            "HostName", f"{name[:253]!r} is not a host name or IP address (e.g. transit-1.dc2).",
            f"{name[:253]!r} 不是有效的主机名或 IP 地址（如 transit-1.dc2）。")
    return name.rstrip(".")


def _value(row: HostCodeRow) -> HostCode:
    return HostCode(id=row.id, region_id=row.region_id, host_name=row.host_name,
                    created_at=row.created_at, expires_at=row.expires_at, used_at=row.used_at,
                    host_id=row.host_id)


def create_code(ctx: ServiceContext, account_id: AccountId, *, region_id: str, host_name: str,
                ttl_hours: int = TTL_HOURS_DEFAULT) -> NewHostCode:
    """A one-use code for registering `host_name` in one of the account's regions."""
    if not 1 <= ttl_hours <= TTL_HOURS_MAX:
        raise errors.invalid("TtlHours", f"ttl_hours must be 1–{TTL_HOURS_MAX}.",
                             f"ttl_hours 须在 1–{TTL_HOURS_MAX} 之间。")
    name, now, secret = check_host_name(host_name), ctx.now(), crypto.new_token()
    with ctx.db.transaction() as session:
        lookup.region_row(session, account_id, region_id)
        row = HostCodeRow(id=ctx.new_id(PREFIX_HOST_CODE), account_id=account_id,
                          region_id=region_id, host_name=name,
                          code_hash=crypto.sha256_hex(secret), created_at=now,
                          expires_at=now + timedelta(hours=ttl_hours))
        session.add(row)
        session.flush()
        return NewHostCode(_value(row), secret)


def list_codes(ctx: ServiceContext, account_id: AccountId) -> list[HostCode]:
    """The account's registration codes, newest first."""
    with ctx.db.read() as session:
        rows = session.scalars(select(HostCodeRow).where(HostCodeRow.account_id == account_id)
                               .order_by(HostCodeRow.created_at.desc()))
        return [_value(r) for r in rows]


def bad_code() -> errors.Unauthenticated:
    """The error for an unknown, used or expired registration code."""
    return errors.Unauthenticated(
        "InvalidRegistrationCode",
        "The host registration code is unknown, used or expired; create a new one with "
        "`rehost transit code create`.",
        "主机注册码无效、已使用或已过期；请用 `rehost transit code create` 创建新的注册码。")


def redeem(session: Session, secret: str, *, now: datetime) -> HostCodeRow:
    """The unused, unexpired code of `secret`, locked for this transaction."""
    row = session.scalars(select(HostCodeRow).where(
        HostCodeRow.code_hash == crypto.sha256_hex(secret)).with_for_update()).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise bad_code()
    return row
