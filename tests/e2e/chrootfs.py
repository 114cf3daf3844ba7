"""Debian chroots for the portable-agent tests: built once with debootstrap, reused.

`/var/cache/rehost/chroot-<suite>` holds a `--variant=minbase` tree with python3,
ca-certificates and curl (no pip packages); a stamp file records what was asked for, so a
missing or different tree is rebuilt. `Chroot.run` runs a command inside with /proc, /sys and
/dev bind-mounted in a private mount namespace (`unshare -m`), so nothing leaks on failure.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CACHE_ROOT = Path(os.environ.get("REHOST_CACHE_DIR", "/var/cache/rehost"))
# a suite past its life moves to the archive: try it when the main mirror has no such suite
MIRRORS = ("http://deb.debian.org/debian", "http://archive.debian.org/debian")
PACKAGES = ("python3", "ca-certificates", "curl")
BUILD_TIMEOUT_S = 1200
CLEAN_ENV = "PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8"


@dataclass(frozen=True, slots=True)
class Chroot:
    """A built Debian tree and how to run commands in it."""

    root: Path
    suite: str

    def argv(self, command: Sequence[str], *,
             binds: Sequence[tuple[Path, str]] = ()) -> list[str]:
        """An argv running command inside the chroot with a clean environment.

        /proc, /sys and /dev and binds ((host path, path inside) pairs) are mounted in a
        private mount namespace, so they vanish with the process however it ends.
        """
        lines = [f'mount --rbind /{d} "{self.root}/{d}"' for d in ("proc", "sys", "dev")]
        for host, inside in binds:
            target = self.root / inside.lstrip("/")
            if host.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.touch(exist_ok=True)
            lines.append(f"mount --bind '{host}' '{target}'")
        lines.append(f'exec chroot "{self.root}" env -i {CLEAN_ENV} "$@"')
        return ["unshare", "-m", "--propagation", "private", "sh", "-ec", "\n".join(lines),
                "chroot-run", *command]

    def run(self, command: Sequence[str], *, binds: Sequence[tuple[Path, str]] = (),
            stdin: str = "", timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        """Run command inside the chroot and wait for it."""
        return subprocess.run(self.argv(command, binds=binds), input=stdin,
                              capture_output=True, text=True, timeout=timeout_s, check=False)


def _stamp_text(suite: str) -> str:
    return f"debootstrap --variant=minbase {suite} +{','.join(PACKAGES)}\n"


def debian_chroot(suite: str) -> Chroot:
    """The cached chroot of suite, built (under a lock) when absent or made differently."""
    root = CACHE_ROOT / f"chroot-{suite}"
    stamp = CACHE_ROOT / f"chroot-{suite}.stamp"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with _locked(CACHE_ROOT / f"chroot-{suite}.lock"):
        if not (stamp.is_file() and stamp.read_text() == _stamp_text(suite)
                and (root / "usr/bin/python3").exists()):
            _build(suite, root)
            stamp.write_text(_stamp_text(suite))
    return Chroot(root, suite)


def _build(suite: str, root: Path) -> None:
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(root, ignore_errors=True)
    failures = []
    for mirror in MIRRORS:
        shutil.rmtree(partial, ignore_errors=True)
        # a private mount namespace: the /proc and /sys debootstrap mounts vanish even if it dies
        proc = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "debootstrap", "--variant=minbase",
             f"--include={','.join(PACKAGES)}", suite, str(partial), mirror],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
        if proc.returncode == 0:
            partial.rename(root)
            return
        failures.append(f"{mirror}:\n{proc.stdout[-2000:]}{proc.stderr[-1000:]}")
    raise RuntimeError(f"debootstrap {suite} failed:\n" + "\n".join(failures))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

