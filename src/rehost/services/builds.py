"""Processing → Cleaning → Finished: build a synced job's image, one thread per job."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from rehost.domain import adaptation, incremental
from rehost.domain.errors import BuildFailed, RehostError
from rehost.domain.ids import PREFIX_IMAGE, AccountId, JobId
from rehost.domain.models import EventLevel, Job, Region
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.services import dataplane, failures, regions
from rehost.services.context import ServiceContext
from rehost.storage.manifest import ImageRecord
from rehost.storage.ports import ImageStore
from rehost.transit.buildstep import (
    CRASH_HINT,
    HINTS_ZH,
    SERVER_FULL_HINT,
    BuildPlan,
    JobLog,
    PausePoint,
    Preparer,
    lower_build_priority,
    no_pause,
    run_build,
)

log = logging.getLogger(__name__)

PublishingStoreFactory = Callable[[Region], ImageStore]
# (image record, region) -> (verify result text, passed); None = verification off
Verifier = Callable[[ImageRecord, Region], tuple[str, bool]]


class ImageBuilder:
    """Runs the Processing (and an interrupted Cleaning) step of synced jobs in threads."""

    def __init__(self, ctx: ServiceContext, *, store_for: PublishingStoreFactory,
                 prepare: Preparer | None = None, verify: Verifier | None = None,
                 pause: PausePoint = no_pause) -> None:
        self._ctx, self._store_for, self._prepare, self._verify = ctx, store_for, prepare, verify
        self._pause = pause
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def submit(self, job_id: str, digests: dict[int, str] | None = None) -> None:
        """Build the job's image unless a build of it is already running."""
        with self._lock:
            if job_id in self._running:
                return
            self._running.add(job_id)
        threading.Thread(target=self._run, args=(JobId(job_id), digests or {}),
                         name=f"build-{job_id}", daemon=True).start()

    def resume(self) -> int:
        """After a restart: rebuild (or just register) every job left in Processing/Cleaning."""
        pending = [j for status in _BUILDING for j in dataplane.jobs_in_business_status(
            self._ctx, status) if not self._remote(j)]
        for job_id in pending:
            self.submit(job_id)
        return len(pending)

    def _remote(self, job_id: JobId) -> bool:
        """Whether the job's transit is on a transit host (which builds the image itself)."""
        try:
            return bool(dataplane.task_by_job(self._ctx, job_id).transit.host_id)
        except RehostError:
            return False

    def _run(self, job_id: JobId, digests: dict[int, str]) -> None:
        lower_build_priority()
        try:
            self.build(job_id, digests)
        except BuildFailed as exc:
            self._fail(job_id, exc)
        except Exception as exc:  # a build must never die silently: the job would hang
            log.exception("image build of %s crashed", job_id)
            self._fail(job_id, _crash_failure(exc))
        finally:
            with self._lock:
                self._running.discard(job_id)

    def build(self, job_id: JobId, digests: dict[int, str]) -> None:
        """Prepare + publish the image (unless already published), Cleaning, register, finish."""
        task = dataplane.task_by_job(self._ctx, job_id)
        if task.job.status is not JobStatus.RUNNING or task.transit.host_id or (
                task.job.business_status not in _BUILDING):
            return
        region = regions.get_region(self._ctx, AccountId(task.job.account_id), task.job.region_id)
        store = self._store_for(region)
        published = published_image(store, job_id, _image_name(task.job))
        if published is not None:  # a restart after publishing: the image is durable, reuse it
            dataplane.set_business_status(self._ctx, job_id, BusinessStatus.CLEANING)
            self._pause("cleaning")
            finish_build(self._ctx, job_id, published, "", store)
            return
        spec = task.job.spec
        adapt = adaptation.resolve(spec.adapt_guests, spec.keep_static_network,
                                   region_adapt=region.adapt_guests,
                                   region_keep=region.keep_static_network)
        plan = BuildPlan(
            job_id=job_id, source_id=task.job.source_id, image_id=self._ctx.new_id(PREFIX_IMAGE),
            image_name=_image_name(task.job), work_dir=Path(task.transit.work_dir),
            disks=tuple((i, size, task.target_sizes_bytes[i])
                        for i, size in sorted(task.disk_sizes_bytes.items())),
            boot_mode=task.boot_mode, disk_format=region.image_format,
            verify=self._verify is not None and region.verify_after_migration,
            digests=tuple(sorted(digests.items())),
            accept_failed_checks=region.accept_failed_checks, adapt_guests=adapt.adapt_guests,
            adapt_engine=region.adapt_engine, keep_static_network=adapt.keep_static_network,
            received_final=task.job.spec.run_once,
        )
        verifier = self._verify
        record, verify_text = run_build(
            plan, store=store, now=self._ctx.now(), log=job_logger(self._ctx, job_id),
            prepare=self._prepare, pause=self._pause,
            verify=(lambda r: verifier(r, region)) if verifier is not None else None)
        dataplane.set_business_status(self._ctx, job_id, BusinessStatus.CLEANING)
        self._pause("cleaning")
        finish_build(self._ctx, job_id, record, verify_text, store)

    def _fail(self, job_id: JobId, exc: BuildFailed) -> None:
        failure = failures.Failure(job_id=job_id, code=exc.code, message_en=exc.message,
                                   message_zh=exc.message_zh, hint=exc.hint, hint_zh=exc.hint_zh)
        failures.fail_or_defer(self._ctx, failure)


_BUILDING = (BusinessStatus.PROCESSING, BusinessStatus.CLEANING)


def _crash_failure(exc: Exception) -> BuildFailed:
    """An unexpected error as a BuildFailed (Server.DiskFull when the database is full)."""
    if failures.is_disk_full(exc):
        return BuildFailed("Server.DiskFull", f"the server's disk is full: {exc} "
                           "(服务器磁盘空间不足)", SERVER_FULL_HINT, HINTS_ZH[SERVER_FULL_HINT])
    return BuildFailed("Image.BuildFailed", f"image build failed: {exc}", CRASH_HINT,
                       HINTS_ZH[CRASH_HINT])


def published_image(store: ImageStore, job_id: str, image_name: str) -> ImageRecord | None:
    """The image this job's build already published (atomically, so complete), if any."""
    return next((r for r in store.list_images()
                 if r.job_id == job_id and r.name == image_name), None)


def _image_name(job: Job) -> str:
    """The image name of the job's current cycle (one-shot jobs: its image_name)."""
    if job.spec.run_once:
        return job.spec.image_name
    return incremental.cycle_image_name(job.spec.image_name, max(job.cycle, 1))


def job_logger(ctx: ServiceContext, job_id: JobId) -> JobLog:
    """A JobLog writing into the job's event log."""

    def log_line(level: EventLevel, code: str, en: str, zh: str, hint: str) -> None:
        dataplane.log_event(ctx, job_id, level=level, code=code, message_en=en,
                            message_zh=zh, hint=hint, hint_zh=HINTS_ZH.get(hint, ""))

    return log_line


def finish_build(ctx: ServiceContext, job_id: JobId, record: ImageRecord, verify_text: str,
                 store: ImageStore | None) -> None:
    """Cleaning, then register the published image and finish (the image is deleted on refusal)."""
    try:
        dataplane.set_business_status(ctx, job_id, BusinessStatus.CLEANING)
        dataplane.finish_job(ctx, job_id, manifest=json.loads(record.to_json()),
                             verify_result=verify_text, image_id=record.image_id)
    except RehostError:
        if store is not None:
            store.delete(record.image_id)  # never leave an unregistered image behind
        raise
