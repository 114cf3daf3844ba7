"""Boot-verifies disk images headless in QEMU (snapshot mode: the images are never modified)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rehost.imaging.console import (
    DEFAULT_FAILURE_PATTERNS,
    DEFAULT_SUCCESS_PATTERNS,
    ConsoleMatch,
    ConsoleWatcher,
    FailurePattern,
)
from rehost.imaging.errors import ImagingError

BootMode = Literal["BIOS", "UEFI"]
Accelerator = Literal["auto", "kvm", "tcg"]
DiskBus = Literal["virtio", "sata"]  # sata: how the source ran (VMware, bare metal); tests
QEMU = "qemu-system-x86_64"
QCOW2_MAGIC = b"QFI\xfb"
QUIET_S = 0.5  # console silent this long: an unfinished line is a prompt
OVMF_PAIRS = (
    (Path("/usr/share/OVMF/OVMF_CODE_4M.fd"), Path("/usr/share/OVMF/OVMF_VARS_4M.fd")),
    (Path("/usr/share/OVMF/OVMF_CODE.fd"), Path("/usr/share/OVMF/OVMF_VARS.fd")),
)
# operators (and tests on nested hosts where KVM hangs silently) pin the accelerator
ACCELERATOR_ENV = "REHOST_VERIFY_ACCELERATOR"
KVM_BROKEN_MARKERS = (b"KVM internal error", b"failed to set MSR", b"failed to initialize kvm",
                      b"Could not access KVM kernel module")
_kvm_failed: set[str] = set()  # remembers, per process, that this host's KVM cannot run guests


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of one verification boot."""

    passed: bool
    reason: str
    duration_s: float
    matched_line: str
    log_path: Path
    reason_zh: str = ""
    accelerator: str = ""


@dataclass(frozen=True, slots=True)
class _Machine:
    """The virtual machine a verification boots: firmware, memory, disk controller."""

    boot_mode: BootMode
    memory_mib: int
    disk_bus: DiskBus


@dataclass(frozen=True, slots=True)
class _Run:
    """One QEMU run: the decisive match (if any), exit code and accelerator used."""

    match: ConsoleMatch | None
    returncode: int | None
    timed_out: bool
    accelerator: str


def verify_image(
    disks: Sequence[Path], *, boot_mode: BootMode, timeout_s: float = 300.0,
    success_patterns: Sequence[str] = DEFAULT_SUCCESS_PATTERNS,
    failure_patterns: Sequence[FailurePattern] = (), log_path: Path,
    memory_mib: int = 512, accelerator: Accelerator = "auto", disk_bus: DiskBus = "virtio",
) -> VerifyResult:
    """Boot the disks (system disk first) and PASS only when a success line shows on the console."""
    if not disks:
        raise ValueError("verify_image needs at least the system disk")
    started = time.monotonic()
    accel = _choose_accelerator(accelerator)
    watch = [*failure_patterns, *DEFAULT_FAILURE_PATTERNS]
    machine = _Machine(boot_mode, memory_mib, disk_bus)
    run = _boot(disks, machine, accel, timeout_s, success_patterns, watch, log_path)
    if accel == "kvm" and accelerator == "auto" and _kvm_broken(run, log_path):
        _kvm_failed.add("kvm")
        remaining = max(timeout_s - (time.monotonic() - started), 1.0)
        run = _boot(disks, machine, "tcg", remaining, success_patterns, watch, log_path)
    return _result(run, log_path, time.monotonic() - started, timeout_s)


def disk_format(path: Path) -> str:
    """QEMU format name of a disk file, from its first bytes (qcow2 or raw)."""
    with path.open("rb") as handle:
        return "qcow2" if handle.read(4) == QCOW2_MAGIC else "raw"


def kvm_available() -> bool:
    """True when /dev/kvm can be opened read-write."""
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def kvm_usable() -> bool:
    """True when /dev/kvm opens and KVM has not failed to run a guest in this process."""
    return kvm_available() and "kvm" not in _kvm_failed


def mark_kvm_broken() -> None:
    """Remember that this host's KVM cannot run guests (nested hosts): use TCG from now on."""
    _kvm_failed.add("kvm")


def _choose_accelerator(accelerator: Accelerator) -> str:
    """kvm when asked or usable, else tcg; REHOST_VERIFY_ACCELERATOR=kvm|tcg pins "auto"."""
    if accelerator != "auto":
        return accelerator
    pinned = os.environ.get(ACCELERATOR_ENV, "").strip()
    if pinned:
        if pinned not in ("kvm", "tcg"):
            raise ImagingError(f"{ACCELERATOR_ENV}={pinned!r}: set it to kvm or tcg, or unset it",
                               f"{ACCELERATOR_ENV}={pinned!r} 无效：请设为 kvm 或 tcg 或删除")
        return pinned
    return "kvm" if kvm_available() and "kvm" not in _kvm_failed else "tcg"


def _kvm_broken(run: _Run, log_path: Path) -> bool:
    """True when the run died because KVM could not execute the guest (e.g. nested hosts)."""
    if run.match is not None and run.match.passed:
        return False
    log = log_path.read_bytes()
    return any(marker in log for marker in KVM_BROKEN_MARKERS)


def _result(run: _Run, log_path: Path, duration_s: float, timeout_s: float) -> VerifyResult:
    """Turn a run into a VerifyResult with a bilingual reason."""
    if run.match is not None:
        passed, line = run.match.passed, run.match.line
        reason_en, reason_zh = run.match.reason_en, run.match.reason_zh
    elif run.timed_out:
        passed, line = False, ""
        reason_en = f"timed out after {timeout_s:.0f} s without a login prompt or success line"
        reason_zh = f"{timeout_s:.0f} 秒内未出现登录提示或成功标志，已超时"
    else:
        passed, line = False, ""
        reason_en = f"the guest stopped (qemu exit code {run.returncode}) before a success line"
        reason_zh = f"客户机在出现成功标志前已停止（qemu 退出码 {run.returncode}）"
    return VerifyResult(passed=passed, reason=reason_en, duration_s=round(duration_s, 2),
                        matched_line=line, log_path=log_path, reason_zh=reason_zh,
                        accelerator=run.accelerator)


def _boot(
    disks: Sequence[Path], machine: _Machine, accel: str, timeout_s: float,
    success_patterns: Sequence[str], failure_patterns: Sequence[FailurePattern], log_path: Path,
) -> _Run:
    """Run QEMU once, streaming the serial console into the log and the watcher."""
    watcher = ConsoleWatcher(success_patterns=success_patterns, failure_patterns=failure_patterns)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rehost-verify-") as tmp, log_path.open("wb") as log:
        args = _qemu_args(disks, machine, accel, Path(tmp))
        log.write(("# " + " ".join(args) + "\n").encode())
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            match, timed_out = _watch(proc, watcher, log, time.monotonic() + timeout_s)
        finally:
            _stop(proc)
        return _Run(match, proc.returncode, timed_out, accel)


def _watch(
    proc: subprocess.Popen[bytes], watcher: ConsoleWatcher, log: object, deadline: float
) -> tuple[ConsoleMatch | None, bool]:
    """Read console output until a decisive line, EOF or the deadline."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], min(left, QUIET_S))
        if not ready:
            if (prompt := watcher.idle()) is not None:
                return prompt, False
            continue
        data = os.read(fd, 65536)
        if not data:
            return None, False
        log.write(data)  # type: ignore[attr-defined]
        log.flush()  # type: ignore[attr-defined]
        match = watcher.feed(data)
        if match is not None:
            return match, False
    return None, True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill QEMU (the snapshot overlay is discarded) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _qemu_args(disks: Sequence[Path], machine: _Machine, accel: str, tmp: Path) -> list[str]:
    """The QEMU command line: headless, no network, serial on stdio, virtio disks, snapshot."""
    args = [QEMU, "-nodefaults", "-machine", "pc,graphics=off", "-accel", accel,
            "-m", str(machine.memory_mib), "-smp", "1", "-display", "none", "-serial", "stdio",
            "-nic", "none", "-no-reboot", "-snapshot"]
    # RHEL 9 and newer kernels need x86-64-v2: never the qemu64 default
    args += ["-cpu", "host" if accel == "kvm" else "max"]
    if machine.boot_mode == "UEFI":
        code, vars_template = _ovmf()
        vars_copy = tmp / "OVMF_VARS.fd"
        shutil.copyfile(vars_template, vars_copy)
        args += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                 "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]
    return args + _disk_args(disks, machine.disk_bus)


def _disk_args(disks: Sequence[Path], bus: DiskBus) -> list[str]:
    """One drive per disk, in order, on virtio-blk or on an AHCI (SATA) controller."""
    if bus == "virtio":
        return [arg for disk in disks for arg in (
            "-drive", f"file={disk},format={disk_format(disk)},if=virtio,snapshot=on")]
    args = ["-device", "ahci,id=ahci"]
    for n, disk in enumerate(disks):
        args += ["-drive", f"id=disk{n},file={disk},format={disk_format(disk)},if=none,"
                 "snapshot=on", "-device", f"ide-hd,drive=disk{n},bus=ahci.{n}"]
    return args


def _ovmf() -> tuple[Path, Path]:
    """The OVMF code and variables template from Debian's ovmf package."""
    for code, vars_template in OVMF_PAIRS:
        if code.exists() and vars_template.exists():
            return code, vars_template
    raise FileNotFoundError("OVMF firmware not found; install Debian's ovmf package")
