"""Adapters between the services and the [data] area's transit (wired by the server's main).

- `ServiceTransitControl(ctx)` implements `rehost.transit.ports.TransitControl`.
- `SharedListenerPool(endpoint, pool)` adapts `rehost.transit.pool.ReceiverPool` (one TLS
  listener routed by data token) to the services' `TransitPool` port.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from rehost import messages
from rehost.domain.errors import RehostError
from rehost.domain.ids import JobId, RegionId, TransitId
from rehost.domain.models import DiskProgress, EventLevel
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.domain.throughput import ProgressSample, add_sample, throughput
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
        self._samples: dict[str, tuple[ProgressSample, ...]] = {}  # job id -> rate window
        self._lock = threading.Lock()

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
        """Store per-disk progress with the job's windowed rate spread over unfinished disks."""
        done = sum(d.done_bytes for d in progress.disks)
        total = sum(d.total_bytes for d in progress.disks)
        sample = ProgressSample(self._ctx.now().timestamp(), done)
        with self._lock:  # the job's connections report from their own threads
            samples = add_sample(self._samples.get(progress.job_id, ()), sample)
            self._samples[progress.job_id] = samples
        # the job's own samples over a window, not the interval of the connection that reported
        speed = throughput(samples, bytes_total=total)
        busy = [d for d in progress.disks if d.done_bytes < d.total_bytes] or list(progress.disks)
        share = speed.rate_bytes_per_s / max(1, len(busy))
        disks = [
            DiskProgress(index=d.index, bytes_total=d.total_bytes, bytes_done=d.done_bytes,
                         rate_bytes_per_s=share if d in busy else 0.0,
                         eta_s=speed.eta_s if d in busy else 0.0)
            for d in progress.disks
        ]
        # paused or failed meanwhile: the pool drops the job's connections
        with contextlib.suppress(RehostError):
            dataplane.update_progress(self._ctx, JobId(progress.job_id), disks,
                                      log_milestones=True)

    def sync_done(self, job_id: str, digests: tuple[DiskDigest, ...]) -> None:
        """All data durable: Processing, digests logged, image build handed on (idempotent)."""
        with self._lock:
            self._samples.pop(job_id, None)
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
        _log_delta_pass(self._ctx, task, digests)
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


def _log_delta_pass(ctx: ServiceContext, task: dataplane.TransitTask,
                    digests: tuple[DiskDigest, ...]) -> None:
    """After a delta pass: how many bytes were sent again, against the disks' size."""
    sent = [d.pass_bytes for d in digests if d.pass_bytes >= 0]
    if not sent:
        return
    resent, total = sum(sent), sum(task.disk_sizes_bytes.values())
    share = f"{resent * 100 / total:.2f}%" if total else "-"
    dataplane.log_event(
        ctx, task.job.id, level=EventLevel.INFO, code="Transit.DeltaSent",
        message_en=(f"Delta pass {task.job.cycle}: {resent} bytes re-sent ({share} of the "
                    f"disks' {total} bytes); unchanged data was kept from the transit."),
        message_zh=(f"第 {task.job.cycle} 次增量传输：重新发送 {resent} 字节（占磁盘 {total} "
                    f"字节的 {share}）；未变化的数据沿用中转实例上的副本。"))


class ListenerPool(Protocol):
    """The part of `rehost.transit.pool.ReceiverPool` the adapter uses."""

    def disconnect_job(self, job_id: str) -> None:
        """Drop a job's connections."""
        ...

    def release_job(self, job_id: str, work_dir: Path) -> None:
        """Forget a job and delete its work dir."""
        ...

    def problem(self) -> str:
        """"" while every part of the listener serves, else what does not (for /readyz)."""
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

    def problem(self) -> str:
        """What of the listener does not serve ("" when all of it does)."""
        return self.pool.problem() if self._pool is not None else "the listener is not started"

    def disconnect(self, *, job_id: JobId) -> None:
        """Pause: drop the job's connections."""
        self.pool.disconnect_job(job_id)

    def close(self, *, transit_id: TransitId, job_id: JobId, work_dir: Path) -> None:
        """Release: drop connections, delete the work dir."""
        self.pool.release_job(job_id, work_dir)
