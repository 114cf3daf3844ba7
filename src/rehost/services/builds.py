"""Processing → Cleaning → Finished: build a synced job's image, one thread per job."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from rehost.domain import incremental
from rehost.domain.errors import RehostError
from rehost.domain.ids import PREFIX_IMAGE, AccountId, JobId
from rehost.domain.models import EventLevel, Job, Region
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.imaging.pipeline import Preparation, SizedDisk
from rehost.services import dataplane, regions
from rehost.services.context import ServiceContext
from rehost.storage.local import copy_sparse
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
# (record) -> (verify result text, passed): the Verifier bound to a region
RecordVerifier = Callable[[ImageRecord], tuple[str, bool]]
# (level, code, message en, message zh, hint) -> None: one line of the job's log
JobLog = Callable[[EventLevel, str, str, str, str], None]
_CHECK_LEVEL = {"pass": EventLevel.INFO, "warn": EventLevel.WARNING, "fail": EventLevel.ERROR}


@dataclass(frozen=True, slots=True)
class BuildPlan:
    """Plain values of one Processing step (built by the server or sent to a transit host)."""

    job_id: str
    source_id: str
    image_id: str
    image_name: str
    work_dir: Path
    disks: tuple[tuple[int, int, int], ...]  # (index, source size, target size) in bytes
    boot_mode: str = "BIOS"
    disk_format: str = "raw"
    verify: bool = False
    digests: tuple[tuple[int, str], ...] = ()  # (index, agreed whole-disk digest)


def run_build(plan: BuildPlan, *, store: ImageStore, now: datetime, log: JobLog,
              prepare: Preparer | None = None,
              verify: RecordVerifier | None = None) -> tuple[ImageRecord, str]:
    """Prepare, publish and (optionally) verify a job's disks; raises BuildFailed."""
    digests = dict(plan.digests)
    disks = tuple(
        BuildDisk(index=i, path=target_disk_path(plan.work_dir, i), size_bytes=size,
                  target_size_bytes=target, digest_hex=digests.get(i, ""))
        for i, size, target in sorted(plan.disks)
    )
    log(EventLevel.INFO, "Image.Building", "Building the image.", "正在构建镜像。", "")
    request = BuildRequest(job_id=plan.job_id, source_id=plan.source_id, image_id=plan.image_id,
                           image_name=plan.image_name, disks=disks, boot_mode=plan.boot_mode,
                           disk_format="qcow2" if plan.disk_format == "qcow2" else "raw")
    record = _publish(request, store, now, _preparer(log, prepare, plan.boot_mode))
    return record, _verify_image(log, record, verify if plan.verify else None)


def _publish(request: BuildRequest, store: ImageStore, now: datetime,
             prepare: DiskPreparer) -> ImageRecord:
    try:
        return build_image(request, store=store, now=now, prepare=prepare)
    except RehostError:
        raise
    except Exception as exc:
        code = getattr(exc, "code", "") or "Image.BuildFailed"
        hint = getattr(exc, "hint", "") or _STORE_HINT
        raise BuildFailed(code, f"image build failed: {exc}", hint,
                          getattr(exc, "hint_zh", "") or HINTS_ZH.get(hint, "")) from exc


def _preparer(log: JobLog, prepare: Preparer | None, boot_mode: str) -> DiskPreparer:
    """Resize + check through the imaging port, logging each result on the job."""

    def run(disks: Sequence[BuildDisk]) -> Sequence[str]:
        if prepare is None:
            return ()
        done = prepare([SizedDisk(d.index, d.path, d.target_size_bytes) for d in disks],
                       boot_mode)
        for r in done.resizes:
            if r.action != "none":
                log(EventLevel.INFO, "Image.Resized",
                    f"Disk {r.path.name}: {r.action} to {r.new_size_bytes} bytes.",
                    f"磁盘 {r.path.name}：调整为 {r.new_size_bytes} 字节。", "")
        for a in done.adaptation.changes if done.adaptation is not None else ():
            log(EventLevel.INFO, a.code, a.message_en, a.message_zh, "")
        for c in done.checks:
            log(_CHECK_LEVEL[c.status], f"Check.{c.name}", c.message_en, c.message_zh, c.hint)
        return done.lines()

    return run


def _verify_image(log: JobLog, record: ImageRecord, verify: RecordVerifier | None) -> str:
    if verify is None:
        return ""
    log(EventLevel.INFO, "Image.Verifying", "Booting the image to verify it.",
        "正在启动镜像进行验证。", "")
    text, passed = verify(record)
    log(EventLevel.INFO if passed else EventLevel.WARNING,
        "Image.Verified" if passed else "Image.VerifyFailed",
        f"Boot verification: {text}", f"启动验证：{text}", "" if passed else _VERIFY_HINT)
    return text


class BuildFailed(Exception):
    """The image could not be built; carries an SMC-style code and a fix hint."""

    def __init__(self, code: str, message: str, hint: str, hint_zh: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.hint, self.hint_zh = code, message, hint, hint_zh


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
        """After a restart: rebuild every job left in Processing on the embedded pool."""
        pending = [j for j in dataplane.jobs_in_business_status(
            self._ctx, BusinessStatus.PROCESSING) if not self._remote(j)]
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
        try:
            self.build(job_id, digests)
        except BuildFailed as exc:
            self._fail(job_id, exc.code, exc.message, exc.hint, exc.hint_zh)
        except Exception as exc:  # a build must never die silently: the job would hang
            log.exception("image build of %s crashed", job_id)
            self._fail(job_id, "Image.BuildFailed", f"image build failed: {exc}",
                       _CRASH_HINT, HINTS_ZH[_CRASH_HINT])
        finally:
            with self._lock:
                self._running.discard(job_id)

    def build(self, job_id: JobId, digests: dict[int, str]) -> None:
        """Prepare + publish the image, then Cleaning, then register it and finish."""
        task = dataplane.task_by_job(self._ctx, job_id)
        if (task.job.status, task.job.business_status) != (
                JobStatus.RUNNING, BusinessStatus.PROCESSING) or task.transit.host_id:
            return
        region = regions.get_region(self._ctx, AccountId(task.job.account_id), task.job.region_id)
        store = self._store_for(region)
        plan = BuildPlan(
            job_id=job_id, source_id=task.job.source_id, image_id=self._ctx.new_id(PREFIX_IMAGE),
            image_name=_image_name(task.job), work_dir=Path(task.transit.work_dir),
            disks=tuple((i, size, task.target_sizes_bytes[i])
                        for i, size in sorted(task.disk_sizes_bytes.items())),
            boot_mode=task.boot_mode, disk_format=region.image_format,
            verify=self._verify is not None and region.verify_after_migration,
            digests=tuple(sorted(digests.items())),
        )
        verifier = self._verify
        if not task.job.spec.run_once:  # later cycles need the target exactly as received
            plan = replace(plan, work_dir=snapshot_disks(plan.work_dir, plan.disks))
        try:
            record, verify_text = run_build(
                plan, store=store, now=self._ctx.now(), log=job_logger(self._ctx, job_id),
                prepare=self._prepare,
                verify=(lambda r: verifier(r, region)) if verifier is not None else None)
        finally:
            if not task.job.spec.run_once:
                shutil.rmtree(plan.work_dir, ignore_errors=True)
        finish_build(self._ctx, job_id, record, verify_text, store)

    def _fail(self, job_id: JobId, code: str, message: str, hint: str, hint_zh: str) -> None:
        try:
            dataplane.fail_job(self._ctx, job_id, code=code, message_en=message,
                               message_zh=message, hint=hint, hint_zh=hint_zh)
        except RehostError as exc:
            log.warning("could not mark %s InError: %s", job_id, exc)


def snapshot_disks(work_dir: Path, disks: Sequence[tuple[int, int, int]]) -> Path:
    """Sparse copies of the target disks in work_dir/build, which resize and checks may change."""
    build_dir = work_dir / "build"
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir()
    for index, _size, _target in disks:
        copy_sparse(target_disk_path(work_dir, index), target_disk_path(build_dir, index))
    return build_dir


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


_VERIFY_HINT = ("Read the console log saved beside the image; check the bootloader, kernel "
                "and /etc/fstab of the source, then migrate again.")
_STORE_HINT = "Free space in the image store or fix the disk."
_CRASH_HINT = "See the server log; fix the cause and start the job again."
HINTS_ZH = {  # the build's English hints -> their Chinese text (JobLog carries English only)
    _VERIFY_HINT: ("请查看镜像旁保存的控制台日志，检查迁移源的引导程序、内核和 /etc/fstab，"
                   "然后重新迁移。"),
    _STORE_HINT: "请清理镜像存储的磁盘空间，或修复磁盘故障。",
    _CRASH_HINT: "请查看服务器日志，排除故障原因后重新开始任务。",
}

