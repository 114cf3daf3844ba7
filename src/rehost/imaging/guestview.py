"""The disks' filesystems read inside the libguestfs appliance, on copy-on-write overlays.

The host kernel may lack device-mapper, XFS or btrfs; the appliance has them. Each disk is
added as a throwaway qcow2 overlay, so journal replay (e2fsck -E journal_only, an XFS mount)
writes into the overlay and never into the disk. One appliance serves every check of a machine:
fsck first (so "journal replayed" can be told), then the filesystems are mounted read-only,
one at a time, to read /etc/fstab, /boot and the initramfs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from rehost.imaging.command import run_tool
from rehost.imaging.fsckscript import script_for, verdict_of
from rehost.imaging.guestfish import GUESTFISH, GuestfishError, GuestfishShell, launch_listener
from rehost.imaging.verify import ACCELERATOR_ENV, kvm_usable, mark_kvm_broken
from rehost.imaging.volumes import FsckVerdict, Volume

LAUNCH_TIMEOUT_S = 600.0
KVM_LAUNCH_TIMEOUT_S = 120.0
LISTEN_TIMEOUT_S = 60.0
SKIPPED_TYPES = frozenset({"unknown", ""})
DEVICE = re.compile(r"^/dev/sd([a-z]+)(\d*)$")
SUBVOLUME = re.compile(r"^btrfsvol:(/dev/sd[a-z]+\d*)/(.*)$")


def _disk_index(letters: str) -> int:
    """sda -> 0, sdb -> 1, sdaa -> 26 (the order the disks were added)."""
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("a") + 1
    return index - 1


class GuestfsView:
    """A DiskView over an appliance whose disks are overlays of the machine's disks."""

    def __init__(self, shell: GuestfishShell, scratch: Path) -> None:
        self._shell = shell
        self._scratch = scratch
        self._mounted = ""
        found = self._discover()
        self._verdicts = [verdict_of(v, self._shell.run("debug", "sh", script, ok=True))
                          for v, script in _fsck_targets(found)]
        self._volumes = tuple(self._probe(v) for v in found)

    @property
    def volumes(self) -> tuple[Volume, ...]:
        """Every filesystem the appliance found, with the mount error of those it cannot read."""
        return self._volumes

    def fsck(self) -> list[FsckVerdict]:
        """Verdicts computed when the appliance opened (before any read-only mount)."""
        return list(self._verdicts)

    def _discover(self) -> list[Volume]:
        """list-filesystems, with the disk, partition, LV and subvolume of each."""
        lvs = self._lv_disks()
        volumes = []
        for line in self._shell.run("list-filesystems").splitlines():
            key, _, fs = line.rpartition(": ")
            if not key or fs in SKIPPED_TYPES:
                continue
            uuid = self._shell.run("vfs-uuid", key, ok=True).strip()
            label = self._shell.run("vfs-label", key, ok=True).strip()
            volumes.append(_volume(key, fs.strip(), uuid, label, lvs))
        return volumes

    def _lv_disks(self) -> dict[str, tuple[int, int]]:
        """'/dev/vg/lv' -> (disk, partition) of its first physical volume."""
        out = self._shell.run("debug", "sh", "lvm lvs --noheadings --separator : "
                              "-o vg_name,lv_name,devices 2>/dev/null; true", ok=True)
        found = {}
        for row in out.splitlines():
            fields = row.strip().split(":")
            if len(fields) == 3:
                match = DEVICE.match(fields[2].split("(", 1)[0])
                if match is not None:
                    found[f"/dev/{fields[0]}/{fields[1]}"] = (
                        _disk_index(match.group(1)), int(match.group(2) or 0))
        return found

    def _probe(self, volume: Volume) -> Volume:
        """The volume, with error set when a read-only mount of it fails."""
        if not volume.holds_files:
            return volume
        error = self._mount(volume)
        if not error:
            return volume
        return Volume(volume.key, volume.disk, volume.partition, volume.fs, volume.uuid,
                      volume.label, volume.lv, volume.subvol, error=error)

    def _mount(self, volume: Volume) -> str:
        """Mount the volume read-only at / (unless it already is); the error text, or ''."""
        if self._mounted == volume.key:
            return ""
        self._shell.run("umount-all", ok=True)
        self._mounted = ""
        try:
            self._shell.run("mount-ro", volume.key, "/")
        except GuestfishError as exc:
            return f"the appliance cannot mount it: {exc.message_en[-300:]}"
        self._mounted = volume.key
        return ""

    def list_dir(self, volume: Volume, path: str) -> list[str] | None:
        """Names in the directory (libguestfs ls), None when it is not a directory."""
        if volume.error or self._mount(volume):
            return None
        if self._shell.run("is-dir", path, "followsymlinks:true", ok=True).strip() != "true":
            return None
        return [n for n in self._shell.run("ls", path).splitlines() if n]

    def is_file(self, volume: Volume, path: str) -> bool:
        """True for a regular file, symlinks followed (a dangling link is not a file)."""
        if volume.error or self._mount(volume):
            return False
        return self._shell.run("is-file", path, "followsymlinks:true",
                               ok=True).strip() == "true"

    def read_bytes(self, volume: Volume, path: str) -> bytes | None:
        """The file downloaded to a scratch file and read."""
        if not self.is_file(volume, path):
            return None
        dest = self._scratch / "download"
        dest.unlink(missing_ok=True)
        self._shell.run("download", path, str(dest), ok=True)
        return dest.read_bytes() if dest.exists() else None


def _volume(key: str, fs: str, uuid: str, label: str,
            lvs: dict[str, tuple[int, int]]) -> Volume:
    """A Volume from a libguestfs mountable name."""
    subvol = SUBVOLUME.match(key)
    device = subvol.group(1) if subvol is not None else key
    match = DEVICE.match(device)
    if match is not None:
        return Volume(key, _disk_index(match.group(1)), int(match.group(2) or 0), fs, uuid,
                      label, subvol=subvol.group(2) if subvol is not None else "")
    disk, partition = lvs.get(key, (0, 0))
    lv = key.removeprefix("/dev/").removeprefix("mapper/")
    return Volume(key, disk, partition, fs, uuid, label, lv=lv)


def _fsck_targets(volumes: Sequence[Volume]) -> Iterator[tuple[Volume, str]]:
    """(volume, appliance script) per block filesystem (btrfs once per device, not per subvol)."""
    for volume in volumes:
        if volume.subvol:
            continue
        script = script_for(volume)
        if script:
            yield volume, script


@contextmanager
def open_guest_view(disks: Sequence[Path]) -> Iterator[GuestfsView]:
    """Start one appliance over qcow2 overlays of the disks; removed (and stopped) afterwards."""
    with tempfile.TemporaryDirectory(prefix="rehost-checks-") as tmp:
        scratch = Path(tmp)
        overlays = [_overlay(disk, scratch / f"overlay{i}.qcow2") for i, disk in enumerate(disks)]
        pid = _launch(overlays)
        shell = GuestfishShell(pid)
        try:
            yield GuestfsView(shell, scratch)
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
    args = [GUESTFISH, "--listen", "--format=qcow2"]
    for overlay in overlays:
        args += ["-a", str(overlay)]
    env = {**os.environ, "LIBGUESTFS_BACKEND": os.environ.get("LIBGUESTFS_BACKEND", "direct")}
    chosen = "LIBGUESTFS_BACKEND_SETTINGS" in os.environ
    tcg = os.environ.get(ACCELERATOR_ENV, "").strip() == "tcg" or not kvm_usable()
    if not chosen and not tcg:
        try:
            return _listen_and_run(args, env, KVM_LAUNCH_TIMEOUT_S)
        except TimeoutError:
            mark_kvm_broken()
    if not chosen:
        env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
    try:
        return _listen_and_run(args, env, LAUNCH_TIMEOUT_S)
    except TimeoutError as exc:
        raise GuestfishError(str(exc), f"libguestfs 设备在 {LAUNCH_TIMEOUT_S:.0f} 秒内未启动"
                             ) from exc


def _listen_and_run(args: list[str], env: dict[str, str], timeout_s: float) -> str:
    """guestfish --listen, then `run` (the appliance boot) bounded by timeout_s."""
    pid = launch_listener(args, env, LISTEN_TIMEOUT_S)
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
