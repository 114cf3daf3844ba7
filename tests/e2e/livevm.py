"""A live source server for the consistency test: a corpus Debian VM that runs the agent.

The guest is the corpus image `ext4-mbr-novirtio` plus python3, lvm2, xfsprogs and iproute2
and a boot-time unit that mounts a control disk (label REHOSTCTL) and runs its run.sh with
the output on the serial console. Built once and cached in /var/cache/rehost/livevm.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from oscorpus.builder import partitions
from oscorpus.cache import compress, decompress, progress, recipe_hash, run
from oscorpus.corpus import corpus_image
from oscorpus.mounts import chroot_ready, in_chroot, loop_range, mounted
from oscorpus.recipe import SUITE

BASE = "ext4-mbr-novirtio"
PACKAGES = ("python3", "lvm2", "xfsprogs", "iproute2")
CACHE = Path(os.environ.get("REHOST_LIVEVM_CACHE", "/var/cache/rehost/livevm"))
BOOT_SCRIPT = """#!/bin/sh
exec >/dev/ttyS1 2>&1
for i in $(seq 1 60); do [ -e /dev/disk/by-label/REHOSTCTL ] && break; sleep 1; done
mkdir -p /mnt/ctl
mount -o ro LABEL=REHOSTCTL /mnt/ctl || { echo "LIVE-FAIL no control disk"; exit 1; }
echo LIVE-BOOTED
exec sh /mnt/ctl/run.sh
"""
UNIT = """[Unit]
Description=rehost live-source test driver (control disk LABEL=REHOSTCTL)
After=local-fs.target systemd-udev-settle.service
[Service]
Type=simple
ExecStart=/usr/local/sbin/rehost-live-boot
[Install]
WantedBy=multi-user.target
"""


# the kernel's messages on the console (a boot log: the test reads the script's port)
GRUB_EDITS = ((" quiet", ""),)
SERIAL_PREFIX = "rehost"  # disk n of the VM is /dev/disk/by-id/ata-QEMU_HARDDISK_rehost<n>


def _key() -> str:
    text = f"{BASE} {recipe_hash()} {PACKAGES} {BOOT_SCRIPT} {UNIT} {GRUB_EDITS} root=UUID"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def guest_image(target: Path) -> Path:
    """A fresh raw copy of the live-source guest at target (built and cached when absent)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    packed = CACHE / f"live-source-{_key()}.raw.zst"
    if not packed.exists():
        with tempfile.TemporaryDirectory(prefix="livevm-", dir=CACHE) as tmp:
            raw = corpus_image(BASE, Path(tmp) / "guest.raw")
            _customise(raw, Path(tmp) / "root")
            compress(raw, packed)
        for stale in CACHE.glob("live-source-*.raw.zst"):
            if stale != packed:
                stale.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    return decompress(packed, target)


def _customise(raw: Path, root: Path) -> None:
    """Install the agent's tools and the boot unit into the image's ext4 root."""
    offset, size = partitions(raw)[0]
    debs = CACHE / f"apt-archives-{SUITE}"
    (debs / "partial").mkdir(parents=True, exist_ok=True)
    with loop_range(raw, offset=offset, size=size) as dev, mounted(dev, root), \
            chroot_ready(root):
        uuid = run("blkid", "-s", "UUID", "-o", "value", dev).strip()
        progress(f"live-source guest: installing {' '.join(PACKAGES)}")
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        archives = root / "var/cache/apt/archives"
        run("mount", "--bind", debs, archives)
        try:
            in_chroot(root, "apt-get update -q && apt-get install -y -q "
                      f"--no-install-recommends {' '.join(PACKAGES)}")
        finally:
            run("umount", archives)
        (root / "etc/resolv.conf").unlink()
        script = root / "usr/local/sbin/rehost-live-boot"
        script.write_text(BOOT_SCRIPT)
        script.chmod(0o755)
        (root / "etc/systemd/system/rehost-live.service").write_text(UNIT)
        wants = root / "etc/systemd/system/multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / "rehost-live.service").symlink_to("/etc/systemd/system/rehost-live.service")
        in_chroot(root, "rm -rf /var/lib/apt/lists/*_Packages")
        # SATA disks probe in any order: the root is named by UUID, not /dev/sda1
        edits = (*GRUB_EDITS, ("/dev/sda1", f"UUID={uuid}"))
        for name in ("boot/grub/grub.cfg", "etc/fstab"):
            text = (root / name).read_text()
            for old, new in edits:
                text = text.replace(old, new)
            (root / name).write_text(text)


def control_disk(path: Path, files: dict[str, str | bytes]) -> Path:
    """A small ext4 image labelled REHOSTCTL holding files (mkfs.ext4 -d: no mount)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            dest = Path(tmp) / name
            dest.write_bytes(data if isinstance(data, bytes) else data.encode())
        path.unlink(missing_ok=True)
        run("mkfs.ext4", "-q", "-F", "-L", "REHOSTCTL", "-d", tmp, path, "64M")
    return path


class GuestVM:
    """QEMU (TCG) with SATA disks (q35's AHCI: the guest's initramfs has ahci), user-mode
    networking (10.0.2.2 is the host's loopback); ttyS0 (the kernel console) goes to a boot
    log, ttyS1 (the test script's output, no getty there) is read line by line."""

    def __init__(self, disks: list[Path], log_path: Path, *, memory_mib: int = 768) -> None:
        accel = os.environ.get("REHOST_VERIFY_ACCELERATOR", "tcg")
        argv = ["qemu-system-x86_64", "-nodefaults", "-machine", "q35", "-accel", accel,
                "-m", str(memory_mib), "-smp", "1", "-display", "none",
                "-serial", f"file:{log_path.with_suffix('.boot.log')}", "-serial", "stdio",
                "-netdev", "user,id=n0", "-device", "e1000,netdev=n0"]
        for n, disk in enumerate(disks):
            argv += ["-drive", f"if=none,id=d{n},file={disk},format=raw,cache=unsafe",
                     "-device", f"ide-hd,drive=d{n},bus=ide.{n},serial={SERIAL_PREFIX}{n}"]
        self.argv, self.log_path = argv, log_path
        self.lines: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> GuestVM:
        """Boot the VM."""
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.log_path.open("ab") as log:
            for raw in self.proc.stdout:
                log.write(raw)
                log.flush()
                self.lines.append(raw.decode(errors="replace").rstrip("\r\n"))

    def wait_line(self, prefix: str, *, timeout_s: float) -> str:
        """The first console line that starts with prefix (AssertionError after timeout_s)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith("LIVE-FAIL"):
                    raise AssertionError(f"the guest failed: {line}\n{self.tail()}")
                if line.startswith(prefix):
                    return line
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"QEMU exited {self.proc.returncode}\n{self.tail()}")
            time.sleep(0.5)
        raise AssertionError(f"no console line {prefix!r} in {timeout_s:.0f} s\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        """The console's last lines."""
        return "\n".join(self.lines[-lines:])

    def stop(self) -> None:
        """Power the VM off (kill: the disks are throwaway copies)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@contextmanager
def booted(disks: list[Path], log_path: Path) -> Iterator[GuestVM]:
    """A started GuestVM, killed on the way out."""
    vm = GuestVM(disks, log_path).start()
    try:
        yield vm
    finally:
        vm.stop()
