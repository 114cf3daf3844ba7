"""Processing → Cleaning → Finished: build a synced job's image, one thread per job."""

from __future__ import annotations

import errno
import json
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rehost.domain import incremental
from rehost.domain.errors import RehostError
from rehost.domain.ids import PREFIX_IMAGE, AccountId, JobId
from rehost.domain.models import EventLevel, Job, Region
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.imaging.checks import failure_code
from rehost.imaging.guestfish import GUESTFISH
from rehost.imaging.pipeline import Preparation, SizedDisk
from rehost.imaging.workcopy import discard_working_copy, fresh_working_copy
from rehost.services import dataplane, failures, regions
from rehost.services.context import ServiceContext
from rehost.storage.manifest import ImageRecord
from rehost.storage.ports import ImageStore
from rehost.transit.build import BuildDisk, BuildRequest, DiskPreparer, build_image
from rehost.transit.session import target_disk_path

log = logging.getLogger(__name__)

PublishingStoreFactory = Callable[[Region], ImageStore]
# (image record, region) -> (verify result text, passed); None = verification off
Verifier = Callable[[ImageRecord, Region], tuple[str, bool]]
# (disks with target sizes, boot mode, adapt the guest) -> what resize, adaptation and checks
# did; None = publish as received
Preparer = Callable[[Sequence[SizedDisk], str, bool], Preparation]
# (record) -> (verify result text, passed): the Verifier bound to a region
RecordVerifier = Callable[[ImageRecord], tuple[str, bool]]
# (level, code, message en, message zh, hint) -> None: one line of the job's log
JobLog = Callable[[EventLevel, str, str, str, str], None]
# (step name) -> None: called between build steps; a test-only pause (REHOST_TEST_BUILD_PAUSE)
PausePoint = Callable[[str], None]
# in order; "resized" and "adapted" are called by the Preparer (imaging.pipeline.prepare_disks)
BUILD_STEPS = ("copied", "resized", "adapted", "prepared", "published", "cleaning")
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
    accept_failed_checks: bool = False  # region setting: publish despite hard check failures
    adapt_guests: bool = False  # region setting: OS-adapt the guest (libguestfs) before checks
    # no cycle writes the received disks after this build (a run-once job): the image store
    # may hard-link them instead of copying; an incremental job's next cycle writes in place
    received_final: bool = False


def no_pause(step: str) -> None:
    """Production: build steps run back to back."""


def run_build(plan: BuildPlan, *, store: ImageStore, now: datetime, log: JobLog,
              prepare: Preparer | None = None, verify: RecordVerifier | None = None,
              pause: PausePoint = no_pause) -> tuple[ImageRecord, str]:
    """Prepare a working copy, publish it and (optionally) verify it; raises BuildFailed.

    The received disks in plan.work_dir are never changed: every step runs on work_dir/build,
    which is discarded and cloned again on every (re)start, so a crash at any instant only
    costs the build done so far.
    """
    log(EventLevel.INFO, "Image.Building", "Building the image.", "正在构建镜像。", "")
    if plan.adapt_guests and prepare is not None:
        _require_guestfish()  # before any copy: a missing tool is not worth a retry loop
    store.discard_partial(plan.job_id)  # a publish a crash interrupted: start it again
    copied = _changes_disks(plan)
    build_dir = _working_copy(plan, log) if copied else _in_place(plan, log)
    pause("copied")
    try:
        digests = dict(plan.digests)
        disks = tuple(
            BuildDisk(index=i, path=target_disk_path(build_dir, i), size_bytes=size,
                      target_size_bytes=target, digest_hex=digests.get(i, ""),
                      linkable=copied or plan.received_final)
            for i, size, target in sorted(plan.disks))
        request = BuildRequest(job_id=plan.job_id, source_id=plan.source_id,
                               image_id=plan.image_id, image_name=plan.image_name, disks=disks,
                               boot_mode=plan.boot_mode,
                               disk_format="qcow2" if plan.disk_format == "qcow2" else "raw")
        preparer = _preparer(log, prepare, plan, pause)
        record = _publish(request, store, now, preparer)
    finally:
        discard_working_copy(plan.work_dir)
    pause("published")
    return record, _verify_image(log, record, verify if plan.verify else None)


def _changes_disks(plan: BuildPlan) -> bool:
    """Whether a build step writes the disks: a resize or the guest's adaptation.

    The checks only read (e2fsck -n, file reads), so a build that neither resizes nor adapts
    needs no working copy: it reads the received disks in place, which stay untouched.
    """
    return plan.adapt_guests or any(size != target for _i, size, target in plan.disks)


def _in_place(plan: BuildPlan, log: JobLog) -> Path:
    """Build straight from the received disks (read-only steps only); no copy is made."""
    discard_working_copy(plan.work_dir)  # what an earlier build that resized may have left
    log(EventLevel.INFO, "Image.InPlace",
        "No build step changes the disks: checked read-only where they were received "
        "(no working copy).",
        "没有构建步骤会修改磁盘：直接以只读方式检查接收到的磁盘（无需工作副本）。", "")
    return plan.work_dir


def _working_copy(plan: BuildPlan, log: JobLog) -> Path:
    """Clone the received disks into work_dir/build (Transit.DiskFull when there is no room)."""
    names = [target_disk_path(plan.work_dir, i).name for i, _s, _t in sorted(plan.disks)]
    try:
        build_dir, method = fresh_working_copy(plan.work_dir, names)
    except OSError as exc:
        discard_working_copy(plan.work_dir)
        if exc.errno == errno.ENOSPC:
            raise BuildFailed("Transit.DiskFull",
                              f"no space for the build's working copy: {exc} "
                              "(中转实例磁盘空间不足，无法创建构建副本)",
                              _TRANSIT_FULL_HINT, HINTS_ZH[_TRANSIT_FULL_HINT]) from exc
        raise
    log(EventLevel.INFO, "Image.WorkingCopy",
        f"Building on a working copy ({method}); the received disks stay untouched.",
        f"在工作副本上构建（{_METHOD_ZH.get(method, method)}），接收到的磁盘保持不变。", "")
    return build_dir


def _publish(request: BuildRequest, store: ImageStore, now: datetime,
             prepare: DiskPreparer) -> ImageRecord:
    try:
        return build_image(request, store=store, now=now, prepare=prepare)
    except (RehostError, BuildFailed):
        raise
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise _build_failed(exc) from exc
        raise BuildFailed("Server.DiskFull",
                          f"the image store is full: {exc} (镜像存储磁盘空间不足)",
                          _STORE_HINT, HINTS_ZH[_STORE_HINT]) from exc
    except Exception as exc:
        raise _build_failed(exc) from exc


def _require_guestfish() -> None:
    """Adapt.Failed when the region asks for OS adaptation but libguestfs is not installed."""
    if shutil.which(GUESTFISH) is not None:
        return
    raise BuildFailed("Adapt.Failed",
                      "the region adapts guests (adapt_guests) but libguestfs (guestfish) is "
                      "not installed on the building host: install libguestfs-tools or turn "
                      "the region's adapt_guests off (构建主机未安装 libguestfs：请安装 "
                      "libguestfs-tools 或关闭该地域的客户机适配)",
                      _ADAPT_HINT, _ADAPT_HINT_ZH,
                      message_zh="该地域开启了客户机适配（adapt_guests），但构建主机未安装 "
                                 "libguestfs（guestfish）")


def _build_failed(exc: Exception) -> BuildFailed:
    code = getattr(exc, "code", "") or "Image.BuildFailed"
    fallback = _ADAPT_HINT if code.startswith("Adapt.") else _STORE_HINT
    hint = getattr(exc, "hint", "") or fallback
    return BuildFailed(code, f"image build failed: {exc}", hint,
                       getattr(exc, "hint_zh", "") or HINTS_ZH.get(hint, ""))


def _preparer(log: JobLog, prepare: Preparer | None, plan: BuildPlan,
              pause: PausePoint) -> DiskPreparer:
    """Resize (+ adapt, when the region asks) + check the working copy, logging each result.

    A hard check failure stops the build; `prepare` gets the working-copy paths.
    """

    def run(disks: Sequence[BuildDisk]) -> Sequence[str]:
        if prepare is None:
            return ()
        done = prepare([SizedDisk(d.index, d.path, d.target_size_bytes) for d in disks],
                       plan.boot_mode, plan.adapt_guests)
        for r in done.resizes:
            if r.action != "none":
                log(EventLevel.INFO, "Image.Resized",
                    f"Disk {r.path.name}: {r.action} to {r.new_size_bytes} bytes.",
                    f"磁盘 {r.path.name}：调整为 {r.new_size_bytes} 字节。", "")
        adapted = done.adaptation
        for a in (*adapted.changes, *adapted.notes) if adapted is not None else ():
            log(EventLevel.INFO, a.code, a.message_en, a.message_zh, "")
        for c in done.checks:
            log(_CHECK_LEVEL[c.status], f"Check.{c.name}", c.message_en, c.message_zh, c.hint)
        _stop_on_failures(log, done, plan.accept_failed_checks)
        pause("prepared")
        return done.lines()

    return run


def _stop_on_failures(log: JobLog, done: Preparation, accept_failed: bool) -> None:
    """Raise BuildFailed for the first hard check failure, unless the region accepts them."""
    failed = [c for c in done.checks if c.status == "fail"]
    if not failed:
        return
    if accept_failed:
        names = ", ".join(c.name for c in failed)
        log(EventLevel.WARNING, "Check.Accepted",
            f"Checks failed ({names}); the region accepts failed checks, so the image is "
            "published anyway: it may not boot.",
            f"检查未通过（{names}）；该地域设置为接受未通过检查的镜像，镜像仍会发布，但可能无法启动。",
            _ACCEPTED_HINT)
        return
    first = failed[0]
    raise BuildFailed(failure_code(first),
                      f"check {first.name} failed: {first.message_en} "
                      f"(检查 {first.name} 未通过：{first.message_zh})",
                      f"{first.hint}; {_RETRY_HINT}" if first.hint else _RETRY_HINT,
                      _RETRY_HINT_ZH, message_zh=f"检查 {first.name} 未通过：{first.message_zh}")


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

    def __init__(self, code: str, message: str, hint: str, hint_zh: str = "", *,
                 message_zh: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.hint, self.hint_zh = code, message, hint, hint_zh
        self.message_zh = message_zh or message


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
        plan = BuildPlan(
            job_id=job_id, source_id=task.job.source_id, image_id=self._ctx.new_id(PREFIX_IMAGE),
            image_name=_image_name(task.job), work_dir=Path(task.transit.work_dir),
            disks=tuple((i, size, task.target_sizes_bytes[i])
                        for i, size in sorted(task.disk_sizes_bytes.items())),
            boot_mode=task.boot_mode, disk_format=region.image_format,
            verify=self._verify is not None and region.verify_after_migration,
            digests=tuple(sorted(digests.items())),
            accept_failed_checks=region.accept_failed_checks, adapt_guests=region.adapt_guests,
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
                           "(服务器磁盘空间不足)", _SERVER_FULL_HINT, HINTS_ZH[_SERVER_FULL_HINT])
    return BuildFailed("Image.BuildFailed", f"image build failed: {exc}", _CRASH_HINT,
                       HINTS_ZH[_CRASH_HINT])


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


_VERIFY_HINT = ("Read the console log saved beside the image; check the bootloader, kernel "
                "and /etc/fstab of the source, then migrate again.")
_STORE_HINT = "Free space in the image store or fix the disk."
_CRASH_HINT = "See the server log; fix the cause and start the job again."
_TRANSIT_FULL_HINT = "Free space in the transit work directory, then start the job again."
_SERVER_FULL_HINT = ("Free space on the server's data volume (database and image store), "
                     "then start the job again.")
_RETRY_HINT = ("the received disks are kept: fix the source, then start the job again "
               "(only changed data is sent)")
_RETRY_HINT_ZH = "已接收的磁盘会保留：请修复迁移源后重新开始任务（只发送变化的数据）。"
_ACCEPTED_HINT = "Test the image before using it: rehost image verify."
_ADAPT_HINT = ("Install libguestfs-tools on the building host (the server or transit host), "
               "or turn guest adaptation off for the region (--no-adapt-guests), then start "
               "the job again.")
_ADAPT_HINT_ZH = ("请在构建主机（服务器或中转主机）上安装 libguestfs-tools，或关闭该地域的客户机"
                  "适配（--no-adapt-guests），然后重新开始任务。")
_METHOD_ZH = {"reflink": "写时复制克隆", "sparse copy": "稀疏复制"}
HINTS_ZH = {  # the build's English hints -> their Chinese text (JobLog carries English only)
    _VERIFY_HINT: ("请查看镜像旁保存的控制台日志，检查迁移源的引导程序、内核和 /etc/fstab，"
                   "然后重新迁移。"),
    _STORE_HINT: "请清理镜像存储的磁盘空间，或修复磁盘故障。",
    _CRASH_HINT: "请查看服务器日志，排除故障原因后重新开始任务。",
    _TRANSIT_FULL_HINT: "请清理中转实例工作目录的磁盘空间，然后重新开始任务。",
    _SERVER_FULL_HINT: "请清理服务器数据卷（数据库和镜像存储）的磁盘空间，然后重新开始任务。",
    _ACCEPTED_HINT: "使用前请先测试镜像：rehost image verify。",
    _ADAPT_HINT: _ADAPT_HINT_ZH,
}

