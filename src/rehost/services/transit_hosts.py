"""Transit hosts: `rehost transit` processes of a region (register, auth, heartbeat, allocation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rehost.db.tables import HostCodeRow, TransitHostRow, TransitSlotRow
from rehost.domain import errors, rules
from rehost.domain.ids import AccountId
from rehost.services import crypto, host_codes
from rehost.services.context import ServiceContext

PREFIX_TRANSIT_HOST = "th"
ONLINE, OFFLINE, REVOKED = "Online", "Offline", "Revoked"
MISSED_BEATS = 3  # a host is offline after 3 missed heartbeat intervals


@dataclass(frozen=True, slots=True)
class TransitHost:
    """A registered transit host and whether it is online now."""

    id: str
    account_id: str
    region_id: str
    name: str
    data_endpoint: str
    state: str
    created_at: datetime
    last_seen_at: datetime | None
    active_transits: int = 0


@dataclass(frozen=True, slots=True)
class HostRegistration:
    """What `rehost transit run` receives once: its id and host token."""

    host: TransitHost
    token: str


def bad_host_token() -> errors.Unauthenticated:
    """The error for an unknown host token."""
    return errors.Unauthenticated(
        "InvalidHostToken",
        "Unknown or revoked transit host token; register the host again with a new "
        "registration code.",
        "中转主机令牌无效或已吊销；请使用新的注册码重新注册该主机。",
    )


def _online(ctx: ServiceContext, row: TransitHostRow, now: datetime) -> bool:
    if row.revoked_at is not None:
        return False
    limit = timedelta(seconds=MISSED_BEATS * ctx.settings.heartbeat_interval_s)
    return row.last_seen_at is not None and now - row.last_seen_at <= limit


def _active_counts(session: Session, host_ids: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(TransitSlotRow.host_id, func.count()).where(
            TransitSlotRow.host_id.in_(host_ids), TransitSlotRow.released_at.is_(None),
        ).group_by(TransitSlotRow.host_id)).all()
    return {str(h): int(n) for h, n in rows}


def _value(ctx: ServiceContext, row: TransitHostRow, active: int = 0) -> TransitHost:
    state = ONLINE if _online(ctx, row, ctx.now()) else OFFLINE
    if row.revoked_at is not None:
        state = REVOKED
    return TransitHost(id=row.id, account_id=row.account_id, region_id=row.region_id,
                       name=row.name, data_endpoint=row.data_endpoint, state=state,
                       created_at=row.created_at, last_seen_at=row.last_seen_at,
                       active_transits=active)


def check_endpoint(endpoint: str) -> str:
    """`host:port` with a port in 1–65535, else InvalidParameter.DataEndpoint."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.invalid("DataEndpoint", "The data endpoint must be HOST:PORT.",
                             "数据端点须为 HOST:PORT 格式。")
    return endpoint


def _endpoint_host(data_endpoint: str) -> str:
    return host_codes.check_host_name(data_endpoint.rpartition(":")[0].strip("[]"))


def _check_code_matches(code: HostCodeRow, *, region_id: str, data_endpoint: str) -> None:
    if region_id and region_id != code.region_id:
        raise errors.invalid(
            "RegionId", f"The registration code is for region {code.region_id!r}, not "
            f"{region_id!r}; pass --region {code.region_id} or create a code for {region_id!r}.",
            f"该注册码属于地域 {code.region_id!r}，而非 {region_id!r}；"
            f"请使用 --region {code.region_id} 或为 {region_id!r} 创建注册码。")
    if _endpoint_host(data_endpoint) != code.host_name:
        raise errors.invalid(
            "DataEndpoint", f"The registration code is for host {code.host_name!r}; advertise "
            f"that name (--advertise {code.host_name}) or create a code for this host.",
            f"该注册码仅适用于主机 {code.host_name!r}；请使用 --advertise {code.host_name}"
            "，或为本主机创建注册码。")


def register_host(ctx: ServiceContext, *, code: str, name: str, data_endpoint: str,
                  region_id: str = "") -> HostRegistration:
    """Redeem a registration code: the host of its region and name; the token is shown once."""
    rules.check_name(name, field="Name", what_en="transit host name", what_zh="中转主机名称")
    check_endpoint(data_endpoint)
    now, token = ctx.now(), crypto.new_token()
    with ctx.db.transaction() as session:
        found = host_codes.redeem(session, code, now=now)
        _check_code_matches(found, region_id=region_id, data_endpoint=data_endpoint)
        row = TransitHostRow(
            id=ctx.new_id(PREFIX_TRANSIT_HOST), account_id=found.account_id,
            region_id=found.region_id, name=name, data_endpoint=data_endpoint,
            token_hash=crypto.sha256_hex(token), state=ONLINE, created_at=now, last_seen_at=now,
        )
        session.add(row)
        found.used_at, found.host_id = now, row.id
        session.flush()
        return HostRegistration(_value(ctx, row), token)


def certificate_name(host: TransitHost) -> str:
    """The one name a host's certificate may carry: the host name its code was made for."""
    return _endpoint_host(host.data_endpoint)


def revoke_host(ctx: ServiceContext, account_id: AccountId, host_id: str) -> TransitHost:
    """Refuse the host's token from now on (its transits are recovered as an offline host's)."""
    with ctx.db.transaction() as session:
        row = session.get(TransitHostRow, host_id, with_for_update=True)
        if row is None or row.account_id != account_id:
            raise errors.not_found("TransitHost", host_id)
        if row.revoked_at is None:
            row.revoked_at, row.state = ctx.now(), REVOKED
        return _value(ctx, row)


def list_hosts(ctx: ServiceContext, account_id: AccountId,
               region_id: str | None = None) -> list[TransitHost]:
    """The account's transit hosts (optionally of one region), with their active transits."""
    with ctx.db.read() as session:
        query = select(TransitHostRow).where(TransitHostRow.account_id == account_id)
        if region_id:
            query = query.where(TransitHostRow.region_id == region_id)
        rows = list(session.scalars(query.order_by(TransitHostRow.created_at)))
        counts = _active_counts(session, [r.id for r in rows])
        return [_value(ctx, r, counts.get(r.id, 0)) for r in rows]


def delete_host(ctx: ServiceContext, account_id: AccountId, host_id: str) -> None:
    """Forget a host (its token stops working); refused while it holds active transits."""
    with ctx.db.transaction() as session:
        row = session.get(TransitHostRow, host_id)
        if row is None or row.account_id != account_id:
            raise errors.not_found("TransitHost", host_id)
        if _active_counts(session, [host_id]).get(host_id, 0):
            raise errors.InvalidStatus(
                "TransitHost.InUse", "The host still holds transits of unfinished jobs.",
                "该中转主机上仍有未完成任务的中转实例。")
        session.delete(row)


def authenticate(ctx: ServiceContext, token: str) -> TransitHost:
    """The host of a Bearer host token, else Unauthenticated (401)."""
    with ctx.db.read() as session:
        row = session.scalars(select(TransitHostRow).where(
            TransitHostRow.token_hash == crypto.sha256_hex(token))).first()
        if row is None or row.revoked_at is not None:
            raise bad_host_token()
        return _value(ctx, row)


def heartbeat(ctx: ServiceContext, token: str) -> TransitHost:
    """Record a beat: the host is online for 3 more heartbeat intervals."""
    with ctx.db.transaction() as session:
        row = session.scalars(select(TransitHostRow).where(
            TransitHostRow.token_hash == crypto.sha256_hex(token)).with_for_update()).first()
        if row is None or row.revoked_at is not None:
            raise bad_host_token()
        row.last_seen_at, row.state = ctx.now(), ONLINE
        return _value(ctx, row)


def pick_host(ctx: ServiceContext, session: Session, account_id: str,
              region_id: str) -> TransitHostRow | None:
    """The online host of the region with the fewest active transits (None: embedded pool)."""
    rows = session.scalars(select(TransitHostRow).where(
        TransitHostRow.account_id == account_id, TransitHostRow.region_id == region_id,
    ).order_by(TransitHostRow.created_at)).all()
    now = ctx.now()
    online = [r for r in rows if _online(ctx, r, now)]
    if not online:
        return None
    counts = _active_counts(session, [r.id for r in online])
    return min(online, key=lambda r: counts.get(r.id, 0))


def is_offline(ctx: ServiceContext, session: Session, host_id: str | None) -> bool:
    """Whether a transit's host (None: the embedded pool) is gone or missed 3 beats."""
    if host_id is None:
        return False
    row = session.get(TransitHostRow, host_id)
    return row is None or not _online(ctx, row, ctx.now())


def host_endpoint(ctx: ServiceContext, host_id: str) -> str:
    """The data endpoint a host advertised."""
    with ctx.db.read() as session:
        row = session.get(TransitHostRow, host_id)
        return row.data_endpoint if row is not None else ""
