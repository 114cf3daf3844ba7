"""A guest's root filesystem edited through libguestfs (guestfish --listen / --remote).

The guest's own programs (update-initramfs, dracut, grub-mkconfig) run inside the libguestfs
appliance VM, chrooted into the guest, never on this host. LIBGUESTFS_BACKEND=direct: the
appliance is a plain QEMU child (KVM when /dev/kvm works, TCG otherwise), no libvirtd.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from rehost.imaging.errors import ImagingError

GUESTFISH = "guestfish"
START_TIMEOUT_S = 600.0
COMMAND_TIMEOUT_S = 1800.0


class GuestfishError(ImagingError):
    """libguestfs could not open or edit the guest."""

    code = "Adapt.Failed"


class GuestShell(Protocol):
    """A mounted guest root: files read and written, the guest's commands run in the guest."""

    def sh(self, script: str) -> str:
        """Run a /bin/sh script inside the guest; its stdout."""

    def read(self, path: str) -> str | None:
        """A file's text, None when it is not a regular file."""

    def write(self, path: str, text: str) -> None:
        """Replace a file's content."""

    def ls(self, directory: str) -> list[str]:
        """Names in a directory; empty when it does not exist."""

    def remove(self, path: str) -> None:
        """Delete a file or symlink."""

    def uuid(self, device: str) -> str | None:
        """Filesystem UUID of an appliance device (/dev/sda1), None when it has none."""

    def os_type(self) -> str:
        """libguestfs' inspection of the guest: linux, windows, ..."""


class GuestfishShell:
    """GuestShell over one guestfish --listen process."""

    def __init__(self, pid: str) -> None:
        self._pid = pid

    def run(self, *args: str, ok: bool = False) -> str:
        """One guestfish command; raises GuestfishError unless it succeeds (or ok=True)."""
        # a failing command makes the listener exit, unless prefixed with "-"
        command = [f"-{args[0]}" if ok else args[0], *args[1:]]
        proc = subprocess.run([GUESTFISH, f"--remote={self._pid}", "--", *command],
                              capture_output=True, text=True, errors="replace",
                              timeout=COMMAND_TIMEOUT_S, check=False)
        if proc.returncode != 0 and not ok:
            detail = (proc.stderr or proc.stdout).strip()[-600:]
            raise GuestfishError(f"guestfish {args[0]} failed: {detail}",
                                 f"guestfish {args[0]} 执行失败：{detail}")
        return proc.stdout if proc.returncode == 0 else ""

    def sh(self, script: str) -> str:
        """Run a /bin/sh script inside the guest; its stdout."""
        return self.run("sh", script)

    def read(self, path: str) -> str | None:
        """A file's text, None when it is not a regular file."""
        if self.run("is-file", path, "followsymlinks:true", ok=True).strip() != "true":
            return None
        return self.run("cat", path)

    def write(self, path: str, text: str) -> None:
        """Replace a file's content."""
        self.run("write", path, text)

    def ls(self, directory: str) -> list[str]:
        """Names in a directory; empty when it does not exist."""
        if self.run("is-dir", directory, ok=True).strip() != "true":
            return []
        return [n for n in self.run("ls", directory).splitlines() if n]

    def remove(self, path: str) -> None:
        """Delete a file or symlink."""
        self.run("rm-f", path)

    def uuid(self, device: str) -> str | None:
        """Filesystem UUID of an appliance device (/dev/sda1), None when it has none."""
        return self.run("vfs-uuid", device, ok=True).strip() or None

    def os_type(self) -> str:
        """libguestfs' inspection of the guest: linux, windows, ..."""
        roots = self.run("inspect-get-roots").split()
        return self.run("inspect-get-type", roots[0]).strip() if roots else "unknown"


@contextmanager
def open_guest(disk_paths: Sequence[Path]) -> Iterator[GuestfishShell]:
    """Launch the appliance read-write on the disks, mount the guest's filesystems by inspection."""
    args = [GUESTFISH, "--listen", "--rw", "-i"]
    for disk in disk_paths:
        args += ["-a", str(disk)]
    env = {**os.environ, "LIBGUESTFS_BACKEND": os.environ.get("LIBGUESTFS_BACKEND", "direct")}
    try:
        proc = subprocess.run(args, capture_output=True, text=True, errors="replace", env=env,
                              timeout=START_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GuestfishError(f"cannot start libguestfs: {exc}; install libguestfs-tools",
                             f"无法启动 libguestfs：{exc}；请安装 libguestfs-tools") from exc
    match = re.search(r"GUESTFISH_PID=(\d+)", proc.stdout)
    if proc.returncode != 0 or match is None:
        detail = proc.stderr.strip()[-600:]
        raise GuestfishError(f"libguestfs found no Linux system to adapt: {detail}",
                             f"libguestfs 未找到可适配的 Linux 系统：{detail}")
    shell = GuestfishShell(match.group(1))
    try:
        yield shell
        shell.run("umount-all")
        shell.run("sync")
    finally:
        shell.run("exit", ok=True)
