"""Loop devices over byte ranges of a disk image, mounts and the chroot's API filesystems."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .cache import run

API_FILESYSTEMS = (("proc", "proc", "proc"), ("sysfs", "sys", "sysfs"),
                   ("/dev", "dev", "bind"), ("devpts", "dev/pts", "devpts"))


@contextmanager
def loop_range(image: Path, *, offset: int, size: int) -> Iterator[str]:
    """A loop device over [offset, offset + size) of `image` (no partition scan, no dm)."""
    dev = run("losetup", "-f", "--show", "-o", str(offset), "--sizelimit", str(size),
              image).strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


@contextmanager
def mounted(device: str, target: Path, *, options: str = "") -> Iterator[Path]:
    """`device` mounted on `target` (created); unmounted, after a sync, on the way out."""
    target.mkdir(parents=True, exist_ok=True)
    run("mount", *(["-o", options] if options else []), device, target)
    try:
        yield target
    finally:
        run("sync")
        run("umount", target)


@contextmanager
def chroot_ready(root: Path) -> Iterator[Path]:
    """/proc, /sys, /dev and /dev/pts mounted inside `root` for the chroot's package scripts."""
    with ExitStack() as stack:
        for source, where, kind in API_FILESYSTEMS:
            target = root / where
            target.mkdir(parents=True, exist_ok=True)
            args = ["--bind", source] if kind == "bind" else ["-t", kind, source]
            run("mount", *args, target)
            stack.callback(run, "umount", "-l", target)
        yield root


def in_chroot(root: Path, script: str) -> str:
    """Run a shell script inside the image's root (test-build only: guest code on this host)."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/root",
           "DEBIAN_FRONTEND": "noninteractive"}
    return run("chroot", root, "/bin/sh", "-ec", script, env=env)
