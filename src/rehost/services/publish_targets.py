"""A region's publish targets (libvirt, Glance): set, read, remove."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from rehost.db.tables import PublishTargetRow
from rehost.domain import errors
from rehost.domain.ids import AccountId
from rehost.domain.publish import Target, check_kind, parse_target, target_doc
from rehost.services import lookup
from rehost.services.context import ServiceContext


def set_target(ctx: ServiceContext, account_id: AccountId, region_id: str, kind: str,
               settings: Mapping[str, object]) -> Target:
    """Validate and store (replace) the region's target of `kind`."""
    target = parse_target(kind, settings)
    with ctx.db.transaction() as session:
        lookup.region_row(session, account_id, region_id)
        row = session.get(PublishTargetRow, (account_id, region_id, kind))
        if row is None:
            session.add(PublishTargetRow(account_id=account_id, region_id=region_id, kind=kind,
                                         config=target_doc(target), updated_at=ctx.now()))
        else:
            row.config, row.updated_at = target_doc(target), ctx.now()
    return target


def list_targets(ctx: ServiceContext, account_id: AccountId,
                 region_id: str) -> dict[str, Target]:
    """The region's targets by kind."""
    with ctx.db.read() as session:
        lookup.region_row(session, account_id, region_id)
        rows = session.scalars(select(PublishTargetRow).where(
            PublishTargetRow.account_id == account_id,
            PublishTargetRow.region_id == region_id)).all()
        return {r.kind: parse_target(r.kind, r.config) for r in rows}


def get_target(ctx: ServiceContext, account_id: AccountId, region_id: str,
               kind: str) -> Target:
    """The region's target of `kind`, or an error saying how to configure it."""
    found = list_targets(ctx, account_id, region_id).get(check_kind(kind))
    if found is None:
        raise errors.InvalidStatus(
            "PublishTarget.NotConfigured", f"Region {region_id} has no {kind} publish target; "
            f"set one with `rehost region publish-target set {region_id} --target {kind} ...`.",
            f"地域 {region_id} 未配置 {kind} 发布目标；请用 `rehost region publish-target set "
            f"{region_id} --target {kind} ...` 设置。")
    return found


def delete_target(ctx: ServiceContext, account_id: AccountId, region_id: str,
                  kind: str) -> None:
    """Remove the region's target of `kind` (published copies stay where they are)."""
    with ctx.db.transaction() as session:
        lookup.region_row(session, account_id, region_id)
        row = session.get(PublishTargetRow, (account_id, region_id, check_kind(kind)))
        if row is None:
            raise errors.NotFound("PublishTarget.NotFound", f"Region {region_id} has no {kind} "
                                  "publish target.", f"地域 {region_id} 没有 {kind} 发布目标。")
        session.delete(row)
