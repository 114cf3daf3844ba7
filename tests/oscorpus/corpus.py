"""corpus_image(name, target): the cached zstd image of a layout, rebuilt when absent or stale."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .builder import build_raw
from .cache import cache_dir, compress, decompress, progress, recipe_hash
from .debootstrap import tarball
from .recipe import LAYOUTS

TOOLS = ("debootstrap", "losetup", "sfdisk", "mkfs.ext4", "mkfs.xfs", "pvcreate", "zstd",
         "chroot", "mount", "blkid", "mkfs.btrfs", "btrfs", "mkfs.vfat", "mkswap", "mcopy")


def missing_tools() -> list[str]:
    """Host tools the builder needs and cannot find (scripts/install-system-deps.sh test)."""
    return [t for t in TOOLS if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]


def cached_path(name: str) -> Path:
    """Where the layout's image lives in the cache (keyed by the builder's source hash)."""
    if name not in LAYOUTS:
        raise KeyError(f"unknown corpus layout {name!r}; known: {', '.join(sorted(LAYOUTS))}")
    return cache_dir() / f"{name}-{recipe_hash()}.raw.zst"


def ensure_cached(name: str) -> Path:
    """The layout's compressed image in the cache, built now when absent."""
    packed = cached_path(name)
    if packed.exists():
        return packed
    if os.geteuid() != 0:
        raise PermissionError("building a corpus image needs root (loop devices, chroot)")
    with _lock(f"layout-{name}"):  # one builder per layout
        if packed.exists():  # built by another test process while this one waited
            return packed
        # one download per package set: layouts sharing a debootstrap tarball would make it
        # in the same work directory at once (pytest-xdist workers on a cold cache)
        packages = LAYOUTS[name].packages
        with _lock("packages-" + hashlib.sha256(packages.key().encode()).hexdigest()[:16]):
            tarball(packages)
        return _build(name, packed)


@contextmanager
def _lock(what: str) -> Iterator[None]:
    """An exclusive lock shared by every process using the cache."""
    with (cache_dir() / f".{what}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build(name: str, packed: Path) -> Path:
    """Build the layout's image and compress it into the cache."""
    progress(f"building {name} (no cached {packed.name})")
    with tempfile.TemporaryDirectory(prefix=f"oscorpus-{name}-", dir=cache_dir()) as tmp:
        raw = Path(tmp) / f"{name}.raw"
        build_raw(LAYOUTS[name], raw, Path(tmp))
        progress(f"compressing into {packed}")
        compress(raw, packed)
    for stale in cache_dir().glob(f"{name}-*.raw.zst*"):
        if not stale.name.startswith(packed.name):
            stale.unlink()  # an older recipe's image (and its tree manifest)
    progress(f"{name} ready: {packed} ({packed.stat().st_size // (1 << 20)} MiB compressed)")
    return packed


def corpus_image(name: str, target: Path) -> Path:
    """A fresh raw copy of the layout's image at `target` (sparse), built first if needed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return decompress(ensure_cached(name), target)
