"""Load rows owned by an account, or raise the resource's NotFound (another account's = 404)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from rehost.db import convert
from rehost.db.tables import ImageRow, JobRow, RegionRow, SourceRow, TransitSlotRow, WorkgroupRow
from rehost.domain import errors
from rehost.domain.ids import AccountId
from rehost.domain.models import Job

_Owned = TypeVar("_Owned", JobRow, SourceRow, RegionRow, WorkgroupRow)


def _owned(session: Session, model: type[_Owned], resource: str, row_id: str,
           account_id: AccountId, *, lock: bool) -> _Owned:
    """The account's row of `model` by id, optionally locked, else the resource's NotFound."""
    query = select(model).where(model.id == row_id, model.account_id == account_id)
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise errors.not_found(resource, row_id)
    return row


def workgroup_row(session: Session, account_id: AccountId, workgroup_id: str, *,
                  lock: bool = False) -> WorkgroupRow:
    """The account's workgroup."""
    return _owned(session, WorkgroupRow, "Workgroup", workgroup_id, account_id, lock=lock)


def job_row(session: Session, account_id: AccountId, job_id: str, *, lock: bool = False) -> JobRow:
    """The account's job, optionally locked for update."""
    return _owned(session, JobRow, "Job", job_id, account_id, lock=lock)


def source_row(
    session: Session, account_id: AccountId, source_id: str, *, lock: bool = False
) -> SourceRow:
    """The account's source server."""
    return _owned(session, SourceRow, "SourceServer", source_id, account_id, lock=lock)


def region_row(
    session: Session, account_id: AccountId, region_id: str, *, lock: bool = False
) -> RegionRow:
    """The account's region."""
    return _owned(session, RegionRow, "Region", region_id, account_id, lock=lock)


def image_row(session: Session, account_id: AccountId, image_id: str) -> ImageRow:
    """The account's image."""
    row = session.get(ImageRow, image_id)
    if row is None or row.account_id != account_id:
        raise errors.not_found("Image", image_id)
    return row


def active_transit(session: Session, job_id: str) -> TransitSlotRow | None:
    """The job's unreleased transit, if any."""
    query = select(TransitSlotRow).where(TransitSlotRow.job_id == job_id,
                                         TransitSlotRow.released_at.is_(None))
    return session.scalars(query).first()


def slots_in_use(session: Session, account_id: AccountId, region_id: str) -> set[int]:
    """Slot numbers held by unreleased transits in a region."""
    query = select(TransitSlotRow.slot).where(
        TransitSlotRow.account_id == account_id, TransitSlotRow.region_id == region_id,
        TransitSlotRow.released_at.is_(None),
    )
    return set(session.scalars(query))


def page_rows(
    session: Session, query: Select[Any], *, page_number: int, page_size: int
) -> tuple[Sequence[Any], int]:
    """One page of a (validated, ordered) select and the total count over all pages."""
    rows = session.scalars(query.offset((page_number - 1) * page_size).limit(page_size)).all()
    return rows, count(session, query)


def count(session: Session, query: Select[Any]) -> int:
    """COUNT(*) of a select (used for paging totals)."""
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def job_value(session: Session, row: JobRow) -> Job:
    """A job row with its active transit id."""
    transit = active_transit(session, row.id)
    return convert.job(row, transit_id=transit.id if transit else None)


def read_job(session: Session, account_id: AccountId, job_id: str) -> Job:
    """One job of the account, as a value."""
    return job_value(session, job_row(session, account_id, job_id))
