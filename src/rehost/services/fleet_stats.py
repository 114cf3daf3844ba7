"""What /metrics reports, read from the database (true for every API replica at once)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rehost.db import convert
from rehost.db.tables import ImageRow, JobEventRow, JobRow, SourceRow, TransitSlotRow
from rehost.services.context import ServiceContext

BUILD_STARTED = "Image.Building"  # the event transit.buildstep logs when a build begins


@dataclass(frozen=True, slots=True)
class JobBytes:
    """One job's replication counters, as its REST document shows them."""

    job_id: str
    status: str
    bytes_done: int
    bytes_total: int
    rate_bytes_per_s: float


@dataclass(frozen=True, slots=True)
class FleetStats:
    """A snapshot of jobs, transit slots and agents."""

    jobs_by_status: dict[str, int]
    jobs: tuple[JobBytes, ...]
    slots_in_use: dict[str, int]  # region id -> unreleased transits
    sources_by_state: dict[str, int]
    heartbeats: dict[str, float]  # source id -> last heartbeat, Unix seconds
    job_durations_s: tuple[float, ...]  # finished jobs: finished_at - started_at
    build_durations_s: tuple[float, ...] = ()  # images: registered - their "Image.Building"


def _job_bytes(row: JobRow) -> JobBytes:
    progress = convert.progress(row.progress)
    rate = sum(d.rate_bytes_per_s for d in progress.disks) if row.status == "Running" else 0.0
    return JobBytes(job_id=row.id, status=row.status, bytes_done=progress.bytes_done,
                    bytes_total=progress.bytes_total, rate_bytes_per_s=rate)


def _duration_s(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None or finished is None:
        return None
    return max(0.0, (finished - started).total_seconds())


def _build_durations(session: Session) -> tuple[float, ...]:
    """Each image's build time: its creation minus its job's last build start before it."""
    started = select(func.max(JobEventRow.time)).where(
        JobEventRow.job_id == ImageRow.job_id, JobEventRow.code == BUILD_STARTED,
        JobEventRow.time <= ImageRow.created_at).scalar_subquery()
    rows = session.execute(select(ImageRow.created_at, started)).all()
    spans = (_duration_s(begin, end) for end, begin in rows)
    return tuple(d for d in spans if d is not None)


def read_stats(ctx: ServiceContext) -> FleetStats:
    """Read the snapshot in one read transaction."""
    with ctx.db.read() as session:
        rows = session.scalars(select(JobRow)).all()
        slots = session.execute(
            select(TransitSlotRow.region_id, func.count())
            .where(TransitSlotRow.released_at.is_(None))
            .group_by(TransitSlotRow.region_id)).all()
        sources = session.execute(select(SourceRow.id, SourceRow.state,
                                         SourceRow.last_heartbeat_at)).all()
        builds = _build_durations(session)
    durations = (_duration_s(r.started_at, r.finished_at) for r in rows if r.status == "Finished")
    return FleetStats(
        jobs_by_status=dict(Counter(r.status for r in rows)),
        jobs=tuple(_job_bytes(r) for r in rows),
        slots_in_use={str(region): int(count) for region, count in slots},
        sources_by_state=dict(Counter(str(s.state) for s in sources)),
        heartbeats={str(s.id): s.last_heartbeat_at.timestamp() for s in sources
                    if s.last_heartbeat_at is not None},
        job_durations_s=tuple(d for d in durations if d is not None),
        build_durations_s=builds,
    )
