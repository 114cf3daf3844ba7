"""Load, change, save: every job status change goes through `rehost.domain.jobs` here."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from rehost.db import convert
from rehost.db.tables import JobRow, SourceRow
from rehost.domain import jobs
from rehost.domain.jobs import JobLifecycle
from rehost.domain.states import SourceState


def apply(session: Session, row: JobRow,
          change: Callable[[JobLifecycle], JobLifecycle]) -> JobLifecycle:
    """Apply one domain transition to a (locked) job row and its source; return the new value."""
    before = convert.lifecycle(row)
    after = change(before)
    convert.write_lifecycle(row, after)
    if after.status is not before.status:
        src = session.get(SourceRow, row.source_id)
        if src is not None:
            src.state = jobs.source_after(SourceState(src.state), before=before.status,
                                          after=after.status).value
    return after
