"""Stale data in free space: what years of churn leave behind on a real server's disk.

Files of non-zero data are written, flushed to the disk and deleted in every filesystem, and
the same data is written where no filesystem looks (swap pages after the header, free LVM
extents), so a plan that sends free space would send it and a check of bytes sent sees it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .cache import progress, run
from .recipe import MIB

BLOCK = bytes(range(1, 256)) * (MIB // 255) + b"\x5a" * (MIB % 255)  # non-zero, compressible
MAX_RANGE_MIB = 64


def churn(directories: Iterable[Path], mib: int) -> None:
    """In each directory: `mib` MiB written, fsync'd, then deleted (the blocks stay)."""
    for directory in directories:
        path = directory / ".rehost-stale-data"
        with path.open("wb") as handle:
            for _ in range(mib):
                handle.write(BLOCK)
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
        progress(f"stale data: {mib} MiB written and deleted in {directory}")
    os.sync()


def fill(image: Path, ranges: Iterable[tuple[int, int]]) -> None:
    """Stale data written into byte ranges of the image (at most 64 MiB each)."""
    with image.open("r+b") as handle:
        for offset, size in ranges:
            handle.seek(offset)
            count = min(size, MAX_RANGE_MIB * MIB) // MIB
            for _ in range(count):
                handle.write(BLOCK)
            progress(f"stale data: {count} MiB at byte {offset} (swap pages / free extents)")


def churn_fat(image: Path, offset: int, mib: int, work: Path) -> None:
    """The same in the FAT filesystem at `offset` of the image, with mtools (no mount)."""
    data = work / "stale.bin"
    data.write_bytes(BLOCK * mib)
    target = f"{image}@@{offset}"
    run("mcopy", "-i", target, data, "::/STALE.BIN")
    run("mdel", "-i", target, "::/STALE.BIN")
    data.unlink()
    progress(f"stale data: {mib} MiB written and deleted in the FAT filesystem at byte {offset}")
