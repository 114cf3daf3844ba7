"""Load rows owned by an account, or raise the resource's NotFound (another account's = 404)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from rehost.db.tables import ImageRow, JobRow, RegionRow, SourceRow, TransitRow
from rehost.domain import errors
from rehost.domain.ids import AccountId


def job_row(session: Session, account_id: AccountId, job_id: str, *, lock: bool = False) -> JobRow:
    """The account's job, optionally locked for update."""
    query = select(JobRow).where(JobRow.id == job_id, JobRow.account_id == account_id)
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise errors.not_found("Job", job_id)
    return row


def source_row(
    session: Session, account_id: AccountId, source_id: str, *, lock: bool = False
) -> SourceRow:
    """The account's source server."""
    query = select(SourceRow).where(SourceRow.id == source_id, SourceRow.account_id == account_id)
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise errors.not_found("SourceServer", source_id)
    return row


def region_row(
    session: Session, account_id: AccountId, region_id: str, *, lock: bool = False
) -> RegionRow:
    """The account's region."""
    query = select(RegionRow).where(RegionRow.id == region_id, RegionRow.account_id == account_id)
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise errors.not_found("Region", region_id)
    return row


def image_row(session: Session, account_id: AccountId, image_id: str) -> ImageRow:
    """The account's image."""
    row = session.get(ImageRow, image_id)
    if row is None or row.account_id != account_id:
        raise errors.not_found("Image", image_id)
    return row


def active_transit(session: Session, job_id: str) -> TransitRow | None:
    """The job's unreleased transit, if any."""
    query = select(TransitRow).where(TransitRow.job_id == job_id, TransitRow.released_at.is_(None))
    return session.scalars(query).first()


def slots_in_use(session: Session, account_id: AccountId, region_id: str) -> set[int]:
    """Slot numbers held by unreleased transits in a region."""
    query = select(TransitRow.slot).where(
        TransitRow.account_id == account_id, TransitRow.region_id == region_id,
        TransitRow.released_at.is_(None),
    )
    return set(session.scalars(query))


def count(session: Session, query: Select[Any]) -> int:
    """COUNT(*) of a select (used for paging totals)."""
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
