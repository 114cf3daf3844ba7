"""Transit rows: allocate a network slot + data token, release them, open/close receivers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from rehost.db import convert
from rehost.db.tables import JobRow, RegionRow, TransitSlotRow
from rehost.domain import quotas
from rehost.domain.ids import PREFIX_TRANSIT, AccountId, JobId, RegionId, TransitId
from rehost.domain.models import TransitSlot
from rehost.services import crypto, lookup, transit_hosts
from rehost.services.context import ServiceContext


def data_token(ctx: ServiceContext, row: TransitSlotRow) -> str:
    """Re-derive a transit's data token from the master key (only its hash is stored)."""
    return crypto.derive(ctx.master_key, "dt", row.id, row.salt)


def work_dir(ctx: ServiceContext, transit_id: str) -> Path:
    """Where a transit keeps its target disks and journal."""
    return ctx.settings.data_dir / "transits" / transit_id


def allocate(
    ctx: ServiceContext, session: Session, job: JobRow, region: RegionRow, *, now: datetime
) -> TransitSlotRow:
    """Take the lowest free slot in the (locked) region or raise QuotaExceeded.Vpc.

    The transit goes to the region's least busy online transit host, else the embedded pool.
    Incremental jobs stay on the embedded pool: hosts build one image per transit only.
    """
    used = lookup.slots_in_use(session, AccountId(job.account_id), job.region_id)
    slot = quotas.first_free_slot(used, quota=region.network_quota, reserved=region.reserved_slots)
    transit_id = ctx.new_id(PREFIX_TRANSIT)
    host = (transit_hosts.pick_host(ctx, session, job.account_id, job.region_id)
            if job.run_once else None)
    row = TransitSlotRow(
        id=transit_id, job_id=job.id, account_id=job.account_id, region_id=job.region_id,
        slot=slot, salt=crypto.new_salt(), data_token_hash="", endpoint="",
        work_dir="" if host else str(work_dir(ctx, transit_id)), created_at=now,
        released_at=None, host_id=host.id if host else None,
    )
    row.data_token_hash = crypto.sha256_hex(data_token(ctx, row))
    session.add(row)
    session.flush()
    return row


def release(session: Session, job_id: str, *, now: datetime) -> TransitSlot | None:
    """Mark the job's transit released (slot free); return it so the caller closes it."""
    row = lookup.active_transit(session, job_id)
    if row is None:
        return None
    row.released_at = now
    return convert.transit(row)


def open_receiver(ctx: ServiceContext, transit: TransitSlot) -> str:
    """Ask the transit pool (or the transit's host) for a receiver; store its endpoint."""
    if transit.host_id:  # a `rehost transit` host: it opens the job at the first connection
        endpoint = transit_hosts.host_endpoint(ctx, transit.host_id)
    else:
        endpoint = ctx.transit_pool.open(
            transit_id=TransitId(transit.id), job_id=JobId(transit.job_id),
            region_id=RegionId(transit.region_id), work_dir=Path(transit.work_dir),
        )
    with ctx.db.transaction() as session:
        row = session.get(TransitSlotRow, transit.id)
        if row is not None and row.released_at is None:
            row.endpoint = endpoint
    return endpoint


def close_receiver(ctx: ServiceContext, transit: TransitSlot | None) -> None:
    """Stop a released transit's receiver and remove its work directory.

    A host's transit is released by the host itself when its work poll sees it released.
    """
    if transit is not None and not transit.host_id:
        ctx.transit_pool.close(transit_id=transit.id, job_id=transit.job_id,
                               work_dir=Path(transit.work_dir))


def unreleased(ctx: ServiceContext) -> list[TransitSlot]:
    """Every transit not yet released (to re-open receivers after a server restart)."""
    with ctx.db.read() as session:
        rows = session.scalars(select(TransitSlotRow).where(TransitSlotRow.released_at.is_(None)))
        return [convert.transit(r) for r in rows]
