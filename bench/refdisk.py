"""Sample disks: GPT, one ext4 partition ~30 % used, stale random free space.

The 4 GiB reference disk is the one every timed comparison uses.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

MIB = 1024 * 1024
DISK_BYTES = 4096 * MIB
PART_START = MIB
VERSION = "v1"


def reference_disk(cache_dir: Path) -> Path:
    """Build (or reuse) the reference disk in cache_dir; returns its path."""
    return sample_disk(cache_dir / f"reference-{VERSION}.img", DISK_BYTES, seed=42)


def sample_disk(path: Path, disk_bytes: int, *, seed: int, used: float = 0.30) -> Path:
    """Build (or reuse) a GPT disk of disk_bytes: one ext4 partition `used` full, stale space."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    tree = path.with_suffix(".tree")
    shutil.rmtree(tree, ignore_errors=True)
    try:
        _fill_stale(tmp, disk_bytes)
        subprocess.run(["sfdisk", "-q", str(tmp)], input="label: gpt\nstart=2048, type=linux\n",
                       text=True, check=True)
        populate(tree, int(disk_bytes * used), seed=seed)
        size_k = (disk_bytes - PART_START - MIB) // 1024
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-E",
                        f"nodiscard,offset={PART_START}", "-d", str(tree), str(tmp),
                        f"{size_k}k"], check=True)
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
        tmp.unlink(missing_ok=True)
    return path


def _fill_stale(path: Path, disk_bytes: int) -> None:
    """Whole disk full of random bytes (what deleted files leave behind)."""
    block = os.urandom(64 * MIB)
    with path.open("wb") as f:
        for i in range(disk_bytes // len(block)):
            f.write(block[i:] + block[:i])  # rotate so no two blocks are equal


def populate(root: Path, total_bytes: int, *, seed: int) -> None:
    """Files like a server's: 60 % text/logs, 15 % binaries (semi-compressible), 25 % random."""
    rng = random.Random(seed)
    vocab = [rng.randbytes(rng.randint(2, 9)).hex().encode() for _ in range(4000)]
    text = b" ".join(rng.choices(vocab, k=1_200_000)).replace(b"0 ", b"\n")
    written, n = 0, 0
    while written < total_bytes:
        size = min(total_bytes - written, rng.choice((4096, 60_000, 700_000, 3 * MIB, 8 * MIB)))
        kind = rng.random()
        if kind < 0.60:
            start = rng.randrange(0, len(text) - size) if size < len(text) else 0
            data = text[start : start + size]
        elif kind < 0.75:
            data = _binary_like(rng, size)
        else:
            data = os.urandom(size)
        rel = root / f"d{n % 17}" / f"f{n}"
        rel.parent.mkdir(parents=True, exist_ok=True)
        rel.write_bytes(data)
        written, n = written + len(data), n + 1


def _binary_like(rng: random.Random, size: int) -> bytes:
    """Random 1 KiB blocks interleaved with sparse structured ones, like an ELF file."""
    parts = []
    for _ in range(0, size, 2048):
        parts.append(rng.randbytes(1024))
        parts.append(bytes(512) + (b"\x48\x89\xe5\x41" * 128))
    return b"".join(parts)[:size]
