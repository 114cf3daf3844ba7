"""The server's scheduler thread: scheduled starts, ValidTime expiry, offline sources.

State lives in the database, so a restarted server picks up where it left off.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from rehost.db.tables import JobRow
from rehost.domain import jobs
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId, JobId
from rehost.domain.models import EventLevel, ExecutionMode
from rehost.domain.states import JobAction, JobStatus, allowed_from
from rehost.services import (
    cycles,
    events,
    failures,
    host_work,
    lifecycle,
    runs,
    sources,
    transits,
)
from rehost.services.context import ServiceContext

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one scheduler pass did."""

    started: tuple[JobId, ...]
    expired: tuple[JobId, ...]
    offline_sources: int


def _expire(ctx: ServiceContext) -> tuple[JobId, ...]:
    now = ctx.now()
    expirable = [s.value for s in allowed_from(JobAction.EXPIRE)]
    released = []
    with ctx.db.transaction() as session:
        rows = session.scalars(select(JobRow).where(
            JobRow.status.in_(expirable), JobRow.valid_time <= now).with_for_update()).all()
        for row in rows:
            lifecycle.apply(session, row, lambda job: jobs.expire(job, now=now))
            released.append(transits.release(session, row.id, now=now))
            events.add(session, job_id=row.id, account_id=row.account_id, now=now,
                       level=EventLevel.WARNING, code="ReplicationJob.Expired",
                       message_en="The job passed its ValidTime and expired.",
                       message_zh="任务已超过有效期，已过期。",
                       hint="Create a new job for this source (delete this one first).",
                       hint_zh="请删除此任务，然后为该迁移源新建任务。")
        expired = tuple(JobId(r.id) for r in rows)
    for transit in released:
        transits.close_receiver(ctx, transit)
    return expired


def _due(ctx: ServiceContext) -> list[tuple[AccountId, JobId]]:
    with ctx.db.read() as session:
        rows = session.execute(select(JobRow.account_id, JobRow.id).where(
            JobRow.status == JobStatus.READY.value, JobRow.mode == ExecutionMode.SCHEDULED.value,
            JobRow.scheduled_start_time <= ctx.now(), JobRow.run_count == 0,
        )).all()
    return [(AccountId(a), JobId(j)) for a, j in rows]


def _start_due(ctx: ServiceContext) -> tuple[JobId, ...]:
    started = []
    for account_id, job_id in _due(ctx) + cycles.due_cycles(ctx):
        try:
            runs.start_job(ctx, account_id, job_id)
            started.append(job_id)
        except RehostError as exc:
            _log_once(ctx, account_id, job_id, exc)
    return tuple(started)


def _log_once(ctx: ServiceContext, account_id: AccountId, job_id: JobId, exc: RehostError) -> None:
    with ctx.db.transaction() as session:
        last = events.read_last(session, job_id)
        if last is None or last.code != exc.code:
            events.add(session, job_id=job_id, account_id=account_id, now=ctx.now(),
                       level=EventLevel.WARNING, code=exc.code, message_en=exc.message,
                       message_zh=exc.message_zh, hint="The scheduler retries until ValidTime.",
                       hint_zh="调度器会持续重试，直到任务有效期（ValidTime）结束。")


def tick(ctx: ServiceContext, *, up_since: datetime | None = None) -> TickReport:
    """One pass: deferred failures, expire, start due jobs and cycles, mark offline sources.

    `up_since`: when the scheduler started; offline marking waits 3 heartbeat intervals after
    it so agents can reach a restarted server first.
    """
    failures.retry_deferred(ctx)  # failures a full disk refused, written from outside them
    expired = _expire(ctx)
    started = _start_due(ctx)
    offline = sources.mark_offline_sources(ctx, up_since=up_since)
    if _past_grace(ctx, up_since):  # transit hosts, like agents, get time to reach a restart
        host_work.fail_stranded(ctx)
    return TickReport(started, expired, offline)


def _past_grace(ctx: ServiceContext, up_since: datetime | None) -> bool:
    grace = timedelta(seconds=sources.MISSED_BEATS_OFFLINE * ctx.settings.heartbeat_interval_s)
    return up_since is None or ctx.now() - up_since >= grace


class Scheduler:
    """Runs `tick` every `settings.scheduler_interval_s` in a daemon thread."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._stop = threading.Event()
        self._up_since: datetime | None = None
        self._thread = threading.Thread(target=self._run, name="rehost-scheduler", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._up_since = self._ctx.now()
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                tick(self._ctx, up_since=self._up_since)
            except Exception:  # keep scheduling after a transient DB error; it is logged
                log.exception("scheduler tick failed")
            self._stop.wait(self._ctx.settings.scheduler_interval_s)
