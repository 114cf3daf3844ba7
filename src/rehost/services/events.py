"""Append to and read a job's event log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rehost.db import convert
from rehost.db.tables import JobEventRow
from rehost.domain.errors import RehostError
from rehost.domain.models import EventLevel, JobEvent


def add(
    session: Session,
    *,
    job_id: str,
    account_id: str,
    now: datetime,
    level: EventLevel,
    message_en: str,
    message_zh: str,
    code: str = "",
    hint: str = "",
    hint_zh: str = "",
) -> None:
    """Append one event in the caller's transaction."""
    session.add(JobEventRow(
        job_id=job_id, account_id=account_id, time=now, level=level.value, code=code,
        message_en=message_en, message_zh=message_zh, hint=hint, hint_zh=hint_zh,
    ))


def add_error(session: Session, *, job_id: str, account_id: str, now: datetime,
              error: RehostError) -> None:
    """Append an error event built from a RehostError."""
    add(session, job_id=job_id, account_id=account_id, now=now, level=EventLevel.ERROR,
        code=error.code, message_en=error.message, message_zh=error.message_zh, hint=error.hint,
        hint_zh=getattr(error, "hint_zh", ""))


def read(session: Session, job_id: str, *, after_id: int, limit: int) -> list[JobEvent]:
    """Events of a job with id > after_id, oldest first."""
    query = (
        select(JobEventRow).where(JobEventRow.job_id == job_id, JobEventRow.id > after_id)
        .order_by(JobEventRow.id).limit(limit)
    )
    return [convert.event(r) for r in session.scalars(query)]


def read_last(session: Session, job_id: str) -> JobEvent | None:
    """The newest event of a job."""
    row = session.scalars(
        select(JobEventRow).where(JobEventRow.job_id == job_id)
        .order_by(JobEventRow.id.desc()).limit(1)
    ).first()
    return convert.event(row) if row else None
