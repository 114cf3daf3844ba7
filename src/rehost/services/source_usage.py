"""SMC's source `State`: InUse while a Ready, Running or Stopped job of the source exists.

The stored state says InUse only while a job runs (the agent's work depends on it); SMC shows
a source with a waiting or paused job as InUse too, so DescribeSourceServers presents that.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.orm import Session

from rehost.db.tables import JobRow, SourceRow
from rehost.domain.models import Source
from rehost.domain.states import JobStatus, SourceState

HOLDING: Final = (JobStatus.READY.value, JobStatus.RUNNING.value, JobStatus.STOPPED.value)


def _open_job() -> ColumnElement[bool]:
    return exists(select(JobRow.id).where(JobRow.source_id == SourceRow.id,
                                          JobRow.status.in_(HOLDING)))


def state_filter(state: SourceState) -> ColumnElement[bool]:
    """The WHERE clause of `State=<state>` as SMC means it."""
    if state is SourceState.IN_USE:
        return or_(SourceRow.state == state.value,
                   and_(SourceRow.state == SourceState.AVAILABLE.value, _open_job()))
    if state is SourceState.AVAILABLE:
        return and_(SourceRow.state == state.value, not_(_open_job()))
    return SourceRow.state == state.value


def presented(session: Session, items: tuple[Source, ...]) -> tuple[Source, ...]:
    """The sources with SMC's state: an Available source holding a job is InUse."""
    ids = [s.id for s in items if s.state is SourceState.AVAILABLE]
    if not ids:
        return items
    busy = set(session.scalars(select(JobRow.source_id).where(
        JobRow.source_id.in_(ids), JobRow.status.in_(HOLDING))))
    return tuple(replace(s, state=SourceState.IN_USE) if s.id in busy else s for s in items)
