"""Adapters between the services and the [data] area's transit (wired by the server's main).

- `ServiceTransitControl(ctx)` implements `rehost.transit.ports.TransitControl`.
- `SharedListenerPool(endpoint, pool)` adapts `rehost.transit.pool.ReceiverPool` (one TLS
  listener routed by data token) to the services' `TransitPool` port.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from rehost import messages
from rehost.domain.errors import RehostError
from rehost.domain.ids import JobId, RegionId, TransitId
from rehost.domain.models import DiskProgress, EventLevel
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.services import dataplane, failures
from rehost.services.context import ServiceContext
from rehost.transit.ports import (
    DiskDigest,
    ReceiverProgress,
    TransitDisk,
    TransitJobSpec,
    plan_note_text,
)


class ServiceTransitControl:
    """TransitControl on top of `rehost.services.dataplane`.

    It serves the transits of one receiver: the embedded pool (`host_id` None) or one
    transit host; data tokens and sync reports of other receivers' transits are refused.
    """

    def __init__(self, ctx: ServiceContext,
                 on_synced: Callable[[str, dict[int, str]], None] | None = None,
                 host_id: str | None = None) -> None:
        self._ctx = ctx
        self._on_synced = on_synced
        self._host_id = host_id

    def lookup(self, token: str) -> TransitJobSpec | None:
        """The Running job of this data token (first data moves it to Syncing), else None."""
        try:
            task = dataplane.task_by_data_token(self._ctx, token)
        except RehostError:
            return None
        if task.job.status is not JobStatus.RUNNING or task.transit.host_id != self._host_id:
            return None
        if task.job.business_status is BusinessStatus.PREPARING:
            dataplane.set_business_status(self._ctx, task.job.id, BusinessStatus.SYNCING)
        disks = tuple(
            TransitDisk(index=i, size_bytes=size, target_size_bytes=task.target_sizes_bytes[i])
            for i, size in sorted(task.disk_sizes_bytes.items())
        )
        return TransitJobSpec(job_id=task.job.id, work_dir=Path(task.transit.work_dir),
                              disks=disks, checksum=task.job.spec.checksum)

    def report_progress(self, progress: ReceiverProgress) -> None:
        """Store per-disk progress with the rate spread over unfinished disks and an ETA."""
        busy = [d for d in progress.disks if d.done_bytes < d.total_bytes] or list(progress.disks)
        share = progress.rate_bytes_per_s / max(1, len(busy))
        left = sum(d.total_bytes - d.done_bytes for d in progress.disks)
        eta = left / progress.rate_bytes_per_s if progress.rate_bytes_per_s > 0 else None
        disks = [
            DiskProgress(index=d.index, bytes_total=d.total_bytes, bytes_done=d.done_bytes,
                         rate_bytes_per_s=share if d in busy else 0.0,
                         eta_s=eta if d in busy else 0.0)
            for d in progress.disks
        ]
        # paused or failed meanwhile: the pool drops the job's connections
        with contextlib.suppress(RehostError):
            dataplane.update_progress(self._ctx, JobId(progress.job_id), disks,
                                      log_milestones=True)

    def sync_done(self, job_id: str, digests: tuple[DiskDigest, ...]) -> None:
        """All data durable: Processing, digests logged, image build handed on (idempotent)."""
        try:
            task = dataplane.task_by_job(self._ctx, JobId(job_id))
        except RehostError:
            return  # released meanwhile (finished or deleted)
        job = task.job
        if task.transit.host_id != self._host_id:
            return  # not this receiver's transit: its own receiver builds the image
        if job.status is not JobStatus.RUNNING or job.business_status not in (
                BusinessStatus.PREPARING, BusinessStatus.SYNCING):
            return  # a repeated DISK_DONE after the build started
        dataplane.sync_done(self._ctx, JobId(job_id))
        if self._on_synced is not None:
            self._on_synced(job_id, {d.index: d.digest_hex for d in digests})
        digests = tuple(d for d in digests if d.digest_hex)
        if digests:
            text = ", ".join(f"disk {d.index}: {d.digest_hex}" for d in digests)
            dataplane.log_event(self._ctx, JobId(job_id), level=EventLevel.INFO,
                                code="Transit.Verified", message_en=f"Verified digests: {text}",
                                message_zh=f"校验通过：{text}")

    def log_plan(self, job_id: str, lines: list[str]) -> None:
        """The agent's send-plan notes, one job log line each."""
        for line in lines:
            en, zh = plan_note_text(line)
            dataplane.log_event(self._ctx, JobId(job_id), level=EventLevel.INFO,
                                code="Agent.SendPlan", message_en=en, message_zh=zh)

    def sync_failed(self, job_id: str, code: str, message: str) -> None:
        """The transit gave up: job → InError with the transit's code and message."""
        key = f"hint.transit.{code}"
        hint, hint_zh = messages.both(key if messages.has(key) else "hint.transit.default")
        failures.fail_or_defer(self._ctx, failures.Failure(  # deferred if the DB is full too
            JobId(job_id), code, message, message, hint, hint_zh))


class ListenerPool(Protocol):
    """The part of `rehost.transit.pool.ReceiverPool` the adapter uses."""

    def disconnect_job(self, job_id: str) -> None:
        """Drop a job's connections."""
        ...

    def release_job(self, job_id: str, work_dir: Path) -> None:
        """Forget a job and delete its work dir."""
        ...


class SharedListenerPool:
    """The services' TransitPool port over one shared TLS listener at `endpoint`."""

    def __init__(self, endpoint: str, pool: ListenerPool | None = None) -> None:
        self._pool = pool
        self._endpoint = endpoint

    def attach(self, pool: ListenerPool) -> None:
        """Give the adapter its listener (built after the services that it serves)."""
        self._pool = pool

    @property
    def pool(self) -> ListenerPool:
        """The attached listener."""
        if self._pool is None:
            raise RuntimeError("SharedListenerPool used before attach()")
        return self._pool

    def open(
        self, *, transit_id: TransitId, job_id: JobId, region_id: RegionId, work_dir: Path
    ) -> str:
        """Every job shares the listener; the data token routes it."""
        work_dir.mkdir(parents=True, exist_ok=True)
        return self._endpoint

    def disconnect(self, *, job_id: JobId) -> None:
        """Pause: drop the job's connections."""
        self.pool.disconnect_job(job_id)

    def close(self, *, transit_id: TransitId, job_id: JobId, work_dir: Path) -> None:
        """Release: drop connections, delete the work dir."""
        self.pool.release_job(job_id, work_dir)
