"""Processing → Cleaning → Finished: build a synced job's image, one thread per job."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from rehost.domain.errors import RehostError
from rehost.domain.ids import PREFIX_IMAGE, AccountId, JobId
from rehost.domain.models import EventLevel, Region
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.imaging.pipeline import Preparation, SizedDisk
from rehost.services import dataplane, regions
from rehost.services.context import ServiceContext
from rehost.storage.manifest import ImageRecord
from rehost.storage.ports import ImageStore
from rehost.transit.build import BuildDisk, BuildRequest, DiskPreparer, build_image
from rehost.transit.session import target_disk_path

log = logging.getLogger(__name__)

PublishingStoreFactory = Callable[[Region], ImageStore]
# (image record, region) -> (verify result text, passed); None = verification off
Verifier = Callable[[ImageRecord, Region], tuple[str, bool]]
# (disks with target sizes, boot mode) -> what resize + checks did; None = publish as received
Preparer = Callable[[Sequence[SizedDisk], str], Preparation]
_CHECK_LEVEL = {"pass": EventLevel.INFO, "warn": EventLevel.WARNING, "fail": EventLevel.ERROR}


class BuildFailed(Exception):
    """The image could not be built; carries an SMC-style code and a fix hint."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


class ImageBuilder:
    """Runs the Processing step of synced jobs in background threads."""

    def __init__(self, ctx: ServiceContext, *, store_for: PublishingStoreFactory,
                 prepare: Preparer | None = None, verify: Verifier | None = None) -> None:
        self._ctx, self._store_for, self._prepare, self._verify = ctx, store_for, prepare, verify
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
        """After a restart: rebuild every job that was left in Processing."""
        pending = dataplane.jobs_in_business_status(self._ctx, BusinessStatus.PROCESSING)
        for job_id in pending:
            self.submit(job_id)
        return len(pending)

    def _run(self, job_id: JobId, digests: dict[int, str]) -> None:
        try:
            self.build(job_id, digests)
        except BuildFailed as exc:
            self._fail(job_id, exc.code, exc.message, exc.hint)
        except Exception as exc:  # a build must never die silently: the job would hang
            log.exception("image build of %s crashed", job_id)
            self._fail(job_id, "Image.BuildFailed", f"image build failed: {exc}",
                       "See the server log; fix the cause and start the job again.")
        finally:
            with self._lock:
                self._running.discard(job_id)

    def build(self, job_id: JobId, digests: dict[int, str]) -> None:
        """Prepare + publish the image, then Cleaning, then register it and finish."""
        task = dataplane.task_by_job(self._ctx, job_id)
        if (task.job.status, task.job.business_status) != (JobStatus.RUNNING,
                                                           BusinessStatus.PROCESSING):
            return
        region = regions.get_region(self._ctx, AccountId(task.job.account_id), task.job.region_id)
        store = self._store_for(region)
        work_dir = Path(task.transit.work_dir)
        disks = tuple(
            BuildDisk(index=i, path=target_disk_path(work_dir, i), size_bytes=size,
                      target_size_bytes=task.target_sizes_bytes[i], digest_hex=digests.get(i, ""))
            for i, size in sorted(task.disk_sizes_bytes.items())
        )
        self._log(job_id, "Image.Building", "Building the image.", "正在构建镜像。")
        request = BuildRequest(job_id=job_id, source_id=task.job.source_id,
                               image_id=self._ctx.new_id(PREFIX_IMAGE),
                               image_name=task.job.spec.image_name, disks=disks,
                               boot_mode=task.boot_mode,
                               disk_format="qcow2" if region.image_format == "qcow2" else "raw")
        record = self._publish(request, store, self._preparer(job_id, task.boot_mode))
        verify_text = self._verify_image(job_id, record, region)
        try:
            dataplane.set_business_status(self._ctx, job_id, BusinessStatus.CLEANING)
            dataplane.finish_job(self._ctx, job_id, manifest=json.loads(record.to_json()),
                                 verify_result=verify_text, image_id=record.image_id)
        except RehostError:
            store.delete(record.image_id)  # never leave an unregistered image behind
            raise

    def _publish(self, request: BuildRequest, store: ImageStore,
                 prepare: DiskPreparer) -> ImageRecord:
        try:
            return build_image(request, store=store, now=self._ctx.now(), prepare=prepare)
        except RehostError:
            raise
        except Exception as exc:
            code = getattr(exc, "code", "") or "Image.BuildFailed"
            hint = getattr(exc, "hint", "") or "Free space in the image store or fix the disk."
            raise BuildFailed(code, f"image build failed: {exc}", hint) from exc

    def _preparer(self, job_id: JobId, boot_mode: str) -> DiskPreparer:
        """Resize + check through the imaging port, logging each result on the job."""

        def prepare(disks: Sequence[BuildDisk]) -> Sequence[str]:
            if self._prepare is None:
                return ()
            sized = [SizedDisk(d.index, d.path, d.target_size_bytes) for d in disks]
            done = self._prepare(sized, boot_mode)
            for r in done.resizes:
                if r.action != "none":
                    self._log(job_id, "Image.Resized",
                              f"Disk {r.path.name}: {r.action} to {r.new_size_bytes} bytes.",
                              f"磁盘 {r.path.name}：调整为 {r.new_size_bytes} 字节。")
            for c in done.checks:
                dataplane.log_event(self._ctx, job_id, level=_CHECK_LEVEL[c.status],
                                    code=f"Check.{c.name}", message_en=c.message_en,
                                    message_zh=c.message_zh, hint=c.hint)
            return done.lines()

        return prepare

    def _verify_image(self, job_id: JobId, record: ImageRecord, region: Region) -> str:
        if self._verify is None or not region.verify_after_migration:
            return ""
        self._log(job_id, "Image.Verifying", "Booting the image to verify it.",
                  "正在启动镜像进行验证。")
        text, passed = self._verify(record, region)
        level = EventLevel.INFO if passed else EventLevel.WARNING
        dataplane.log_event(self._ctx, job_id, level=level,
                            code="Image.Verified" if passed else "Image.VerifyFailed",
                            message_en=f"Boot verification: {text}",
                            message_zh=f"启动验证：{text}",
                            hint="" if passed else _VERIFY_HINT)
        return text

    def _log(self, job_id: JobId, code: str, en: str, zh: str) -> None:
        dataplane.log_event(self._ctx, job_id, level=EventLevel.INFO, code=code,
                            message_en=en, message_zh=zh)

    def _fail(self, job_id: JobId, code: str, message: str, hint: str) -> None:
        try:
            dataplane.fail_job(self._ctx, job_id, code=code, message_en=message,
                               message_zh=message, hint=hint)
        except RehostError as exc:
            log.warning("could not mark %s InError: %s", job_id, exc)


_VERIFY_HINT = ("Read the console log saved beside the image; check the bootloader, kernel "
                "and /etc/fstab of the source, then migrate again.")

