"""The disks' filesystems read inside the libguestfs appliance, on copy-on-write overlays.

The host kernel may lack device-mapper, XFS or btrfs; the appliance has them. Each disk is
added as a throwaway qcow2 overlay (labelled rehosta, rehostb, …: its kernel name is known);
journal replay (e2fsck -E journal_only, an XFS mount) writes into the overlay, never into the
disk. One appliance serves every check of a machine: fsck first (so "journal replayed" can be
told), then each filesystem is mounted read-only in turn to read /etc/fstab, /boot, the initramfs.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from rehost.imaging.applianceinfo import (
    LISTING_SCRIPT,
    Listing,
    discovery_script,
    disk_label,
    parse_listing,
    split_marked,
    subvolumes,
    survey_devices,
    wrapped,
)
from rehost.imaging.command import run_tool
from rehost.imaging.fsckscript import script_for, verdict_of
from rehost.imaging.guestfish import GUESTFISH, GuestfishError, GuestfishShell, launch_listener
from rehost.imaging.verify import ACCELERATOR_ENV, kvm_usable, mark_kvm_broken
from rehost.imaging.volumes import FsckVerdict, FsVolume

LAUNCH_TIMEOUT_S = 600.0
KVM_LAUNCH_TIMEOUT_S = 120.0
LISTEN_TIMEOUT_S = 60.0


class GuestfsView:
    """A DiskView over an appliance whose disks are overlays of the machine's disks."""

    def __init__(self, shell: GuestfishShell, scratch: Path, *, disk_count: int) -> None:
        self._shell = shell
        self._scratch = scratch
        self._mounted = ""
        self._listing: dict[str, Listing] = {}
        found, self._kernel_names = survey_devices(
            shell.run("debug", "sh", wrapped(discovery_script(disk_count))))
        report = shell.run("debug", "sh", wrapped(self._fsck_script(found)))
        checked = [v for v in found if script_for(v)]
        self._verdicts = [verdict_of(v, text) for v, text in
                          zip(checked, split_marked(report, "FSCK", len(checked)), strict=True)]
        btrfs = [v for v in found if v.fs == "btrfs"]
        found += subvolumes(btrfs, split_marked(report, "SUBVOLS", len(btrfs)))
        self._volumes = tuple(self._probe(v) for v in found)

    @property
    def volumes(self) -> tuple[FsVolume, ...]:
        """Every filesystem the appliance found, with the mount error of those it cannot read."""
        return self._volumes

    def fsck(self) -> list[FsckVerdict]:
        """Verdicts computed when the appliance opened (before any read-only mount)."""
        return list(self._verdicts)

    def _fsck_script(self, volumes: Sequence[FsVolume]) -> str:
        """Every checker, then the btrfs subvolume lists (mounting replays btrfs' log)."""
        parts = [f"echo FSCK; {script_for(v, self._kernel_names[v.key])}"
                 for v in volumes if script_for(v)]
        parts += [f"echo SUBVOLS; mkdir -p /tmp/rehost-sv; mount -o ro "
                  f"{shlex.quote(self._kernel_names[v.key])} /tmp/rehost-sv && "
                  "btrfs subvolume list /tmp/rehost-sv; umount /tmp/rehost-sv"
                  for v in volumes if v.fs == "btrfs"]
        return "; ".join([*parts, "true"])

    def _probe(self, volume: FsVolume) -> FsVolume:
        """The volume, with error set when a read-only mount of it fails."""
        if not volume.holds_files:
            return volume
        error = self._mount(volume)
        if not error:
            return volume
        return FsVolume(volume.key, volume.disk, volume.partition, volume.fs, volume.uuid,
                      volume.label, volume.lv, volume.subvol, error=error)

    def _mount(self, volume: FsVolume) -> str:
        """Mount the volume read-only at / (unless it already is); the error text, or ''."""
        if self._mounted == volume.key:
            return ""
        self._shell.run("umount-all", ok=True)
        self._mounted = ""
        # a failed mount must not end the listener: a corrupt filesystem is "not checked"
        error = self._shell.attempt("mount-ro", volume.key, "/")
        if error:
            return f"the appliance cannot mount it: {error[-300:]}"
        self._mounted = volume.key
        if volume.key not in self._listing:
            self._listing[volume.key] = parse_listing(
                self._shell.run("debug", "sh", wrapped(LISTING_SCRIPT), ok=True))
        return ""

    def _listed(self, volume: FsVolume) -> Listing | None:
        """The cached listing of /, /boot and /etc, None when the volume cannot be read."""
        if volume.error or self._mount(volume):
            return None
        return self._listing.get(volume.key)

    def list_dir(self, volume: FsVolume, path: str) -> list[str] | None:
        """Names in the directory, None when it is not a directory."""
        listing = self._listed(volume)
        if listing is None:
            return None
        path = "/" + path.strip("/")
        if path in listing.dirs:
            return sorted(listing.dirs[path])
        if listing.covers(path) or self._shell.run(
                "is-dir", path, "followsymlinks:true", ok=True).strip() != "true":
            return None
        return [n for n in self._shell.run("ls", path, ok=True).splitlines() if n]

    def is_file(self, volume: FsVolume, path: str) -> bool:
        """True for a regular file, symlinks followed (a dangling link is not a file)."""
        listing = self._listed(volume)
        if listing is None:
            return False
        path = "/" + path.strip("/")
        if listing.covers(path.rpartition("/")[0] or "/"):
            return path in listing.files
        return self._shell.run("is-file", path, "followsymlinks:true",
                               ok=True).strip() == "true"

    def read_bytes(self, volume: FsVolume, path: str) -> bytes | None:
        """The file downloaded to a scratch file and read."""
        if not self.is_file(volume, path):
            return None
        dest = self._scratch / "download"
        dest.unlink(missing_ok=True)
        self._shell.run("download", path, str(dest), ok=True)
        return dest.read_bytes() if dest.exists() else None


@contextmanager
def open_guest_view(disks: Sequence[Path]) -> Iterator[GuestfsView]:
    """Start one appliance over qcow2 overlays of the disks; removed (and stopped) afterwards."""
    with tempfile.TemporaryDirectory(prefix="rehost-checks-") as tmp:
        scratch = Path(tmp)
        overlays = [_overlay(disk, scratch / f"overlay{i}.qcow2") for i, disk in enumerate(disks)]
        pid = _launch(overlays)
        shell = GuestfishShell(pid)
        try:
            yield GuestfsView(shell, scratch, disk_count=len(overlays))
        finally:
            shell.run("exit", ok=True)
            _kill(pid)


def _overlay(disk: Path, overlay: Path) -> Path:
    """A qcow2 overlay backed by the raw disk: appliance writes land in the overlay only."""
    run_tool(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
              str(disk.resolve()), str(overlay)])
    return overlay


def _launch(overlays: Sequence[Path]) -> str:
    """The listener's pid once the appliance runs; KVM first when usable, TCG otherwise."""
    args = [GUESTFISH, "--listen"]
    env = {**os.environ, "LIBGUESTFS_BACKEND": os.environ.get("LIBGUESTFS_BACKEND", "direct")}
    chosen = "LIBGUESTFS_BACKEND_SETTINGS" in os.environ
    tcg = os.environ.get(ACCELERATOR_ENV, "").strip() == "tcg" or not kvm_usable()
    if not chosen and not tcg:
        try:
            return _listen_and_run(args, env, overlays, KVM_LAUNCH_TIMEOUT_S)
        except TimeoutError:
            mark_kvm_broken()
    if not chosen:
        env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
    try:
        return _listen_and_run(args, env, overlays, LAUNCH_TIMEOUT_S)
    except TimeoutError as exc:
        raise GuestfishError(str(exc), f"libguestfs 设备在 {LAUNCH_TIMEOUT_S:.0f} 秒内未启动"
                             ) from exc


def _listen_and_run(args: list[str], env: dict[str, str], overlays: Sequence[Path],
                    timeout_s: float) -> str:
    """guestfish --listen, the overlays added (labelled), then `run` bounded by timeout_s."""
    pid = launch_listener(args, env, LISTEN_TIMEOUT_S)
    try:
        for index, overlay in enumerate(overlays):
            GuestfishShell(pid).run("add", str(overlay), "format:qcow2",
                                    f"label:{disk_label(index)}")
    except GuestfishError:
        _kill(pid)
        raise
    try:
        proc = subprocess.run([GUESTFISH, f"--remote={pid}", "--", "run"], capture_output=True,
                              text=True, errors="replace", timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        _kill(pid)
        raise TimeoutError(f"libguestfs appliance did not start in {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        _kill(pid)
        detail = (proc.stderr or proc.stdout).strip()[-600:]
        raise GuestfishError(f"the libguestfs appliance did not start: {detail}",
                             f"libguestfs 设备未能启动：{detail}")
    return pid


def _kill(pid: str) -> None:
    """Kill the listener's process group (it and its QEMU), never this process's own group."""
    with suppress(ProcessLookupError, PermissionError):
        group = os.getpgid(int(pid))
        if group != os.getpgrp():
            os.killpg(group, signal.SIGKILL)
