"""One Processing step on any host (server or transit host): copy, prepare, publish, verify.

No database here: a transit host runs this without SQLAlchemy; the server's ImageBuilder
(`rehost.services.builds`) and the transit host's builder (`rehost.transit.hostbuild`) call it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rehost.domain.errors import BuildFailed, RehostError
from rehost.domain.models import EventLevel
from rehost.imaging.adapt import AdaptOptions
from rehost.imaging.adapt_v2v import VIRT_V2V
from rehost.imaging.checks import failure_code
from rehost.imaging.guestfish import GUESTFISH
from rehost.imaging.pipeline import Preparation, SizedDisk
from rehost.imaging.workcopy import discard_working_copy, fresh_working_copy
from rehost.messages import both, render
from rehost.storage.manifest import ImageRecord
from rehost.storage.ports import ImageStore
from rehost.transit.build import BuildDisk, BuildRequest, DiskPreparer, build_image
from rehost.transit.session import target_disk_path

# (disks with target sizes, boot mode, how to adapt the guest or None) -> what resize,
# adaptation and checks did; a None Preparer = publish as received
Preparer = Callable[[Sequence[SizedDisk], str, AdaptOptions | None], Preparation]
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
    adapt_engine: str = "rehost"  # region setting: rehost's steps or virt-v2v-in-place
    keep_static_network: bool = False  # region setting: adaptation leaves the network alone
    # no cycle writes the received disks after this build (a run-once job): the image store
    # may hard-link them instead of copying; an incremental job's next cycle writes in place
    received_final: bool = False


BUILD_NICE = 10  # added to a build thread's nice value (and its tools', which inherit it)


def no_pause(step: str) -> None:
    """Production: build steps run back to back."""


def lower_build_priority() -> None:
    """Give the calling build thread (and the resize, fsck and appliance processes it starts)
    a lower CPU priority than the data plane: while other jobs still sync, a finished job's
    working copy and checks take only the CPU the transfers leave over. Alone on a host, a
    build runs as fast as before. Linux sets nice per thread; elsewhere nothing changes.
    """
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):  # not permitted or not supported: normal priority
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + BUILD_NICE)


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
        # before any copy: a missing tool is not worth a retry loop
        _require_guestfish(plan.adapt_engine)
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


def adapt_options(plan: BuildPlan) -> AdaptOptions | None:
    """How the region adapts guests; None when it does not."""
    if not plan.adapt_guests:
        return None
    return AdaptOptions(engine=plan.adapt_engine, keep_static_network=plan.keep_static_network)


def _require_guestfish(engine: str) -> None:
    """Adapt.Failed when the region asks for OS adaptation but libguestfs is not installed."""
    if engine == "virt-v2v" and shutil.which(VIRT_V2V) is None:
        raise BuildFailed("Adapt.Failed",
                          f"the region adapts guests with virt-v2v (adapt_engine) but {VIRT_V2V} "
                          "is not installed on the building host: install Debian's virt-v2v "
                          "package or create the region with adapt_engine rehost",
                          _ADAPT_HINT, _ADAPT_HINT_ZH,
                          message_zh=f"该地域使用 virt-v2v 适配客户机（adapt_engine），但构建主机"
                                     f"未安装 {VIRT_V2V}：请安装 Debian 的 virt-v2v 软件包，或"
                                     "以 adapt_engine rehost 创建地域")
    if shutil.which(GUESTFISH) is not None:
        return
    raise BuildFailed("Adapt.Failed",
                      "the job adapts guests (adapt_guests, its own or its region's) but "
                      "libguestfs (guestfish) is not installed on the building host: install "
                      "libguestfs-tools or turn adaptation off (构建主机未安装 libguestfs：请安装 "
                      "libguestfs-tools 或关闭客户机适配)",
                      _ADAPT_HINT, _ADAPT_HINT_ZH,
                      message_zh="该任务需要适配客户机（adapt_guests，任务或其地域的设置），但构建"
                                 "主机未安装 libguestfs（guestfish）")


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
                       plan.boot_mode, adapt_options(plan))
        for r in done.resizes:
            if r.action != "none":
                log(EventLevel.INFO, "Image.Resized",
                    f"Disk {r.path.name}: {r.action} to {r.new_size_bytes} bytes"
                    + (f"; {r.note}." if r.note else "."),
                    f"磁盘 {r.path.name}：调整为 {r.new_size_bytes} 字节"
                    + (f"；{r.note_zh}。" if r.note_zh else "。"), "")
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


_VERIFY_HINT, _STORE_HINT = render("hint.build.verify"), render("hint.build.store")
CRASH_HINT, SERVER_FULL_HINT = render("hint.build.crash"), render("hint.build.server-full")
_TRANSIT_FULL_HINT, _ACCEPTED_HINT = (render("hint.build.transit-full"),
                                      render("hint.build.accepted"))
_RETRY_HINT, _RETRY_HINT_ZH = both("hint.build.retry")
_ADAPT_HINT, _ADAPT_HINT_ZH = both("hint.build.adapt")
_METHOD_ZH = {"reflink": "写时复制克隆", "sparse copy": "稀疏复制"}
# the build's English hints -> their Chinese text (JobLog carries English only)
HINTS_ZH = {render(key): render(key, "zh-CN") for key in (
    "hint.build.verify", "hint.build.store", "hint.build.crash", "hint.build.transit-full",
    "hint.build.server-full", "hint.build.accepted", "hint.build.adapt")}
