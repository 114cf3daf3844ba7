"""Per-4 KiB-block digests of the cells an incremental job sent, kept by the agent between cycles.

An entry is (digest of the whole cell, digests of its blocks). It stands for the transit's copy
of that cell only while the transit's base digest (HELLO_OK) equals the entry's cell digest, so
a stale entry (a pass that failed before its ACK, another job, a restart) is never used: the
cell is then sent whole. Block digests are 32 bits: they only pick which blocks to send, and
the transit checks the patched cell against the whole cell's 128-bit digest (a collision is
NACKed and re-sent whole). 4 KiB per 4 MiB cell (1 MiB per GiB of data), in memory only, at
most MAX_CELLS cells per disk (changed cells beyond are sent whole). Python 3.6 + stdlib.
"""

import array
import threading
import zlib
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

try:  # optional accelerator: the portable agent runs without it
    import xxhash
except ImportError:
    xxhash = None  # type: ignore[assignment]

from rehost.chunkdigest import ZEROS
from rehost.protocol.patch import BLOCK_BYTES

MAX_CELLS = 65536  # per disk: 256 GiB of 4 MiB cells, 256 MiB of digests
DiskKey = Tuple[int, str, int]  # index, path, size: the same source disk across cycles


def _xxh32(data: Any) -> int:
    return int(xxhash.xxh3_64_intdigest(data)) & 0xFFFFFFFF


BLOCK_HASH: "Callable[[Any], int]" = _xxh32 if xxhash is not None else zlib.crc32


def block_digests(data: Any) -> "array.array[int]":
    """The 32-bit digest of every BLOCK_BYTES block of data (the last one may be short)."""
    view = memoryview(data)
    return array.array("I", [BLOCK_HASH(view[p : p + BLOCK_BYTES]) & 0xFFFFFFFF
                             for p in range(0, len(view), BLOCK_BYTES)])


_ZERO_DIGESTS: "Dict[int, array.array[int]]" = {}


def zero_digests(length: int) -> "array.array[int]":
    """Block digests of length zero bytes (a cell the target does not hold; cached)."""
    found = _ZERO_DIGESTS.get(length)
    if found is None:
        found = _ZERO_DIGESTS[length] = block_digests(memoryview(ZEROS)[:length])
    return found


def changed_runs(old: "array.array[int]", new: "array.array[int]",
                 length: int) -> "List[Tuple[int, int]]":
    """(start, length) byte runs of the blocks whose digests differ, adjacent ones merged."""
    runs: List[Tuple[int, int]] = []
    for i, (a, b) in enumerate(zip(old, new)):
        if a == b:
            continue
        start = i * BLOCK_BYTES
        end = min(start + BLOCK_BYTES, length)
        if runs and runs[-1][0] + runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end - runs[-1][0])
        else:
            runs.append((start, end - start))
    return runs


class CellBlocks(NamedTuple):
    """What the agent sent of one cell: its digest and its blocks' digests."""

    digest: bytes
    blocks: "array.array[int]"


class BlockDigests:
    """Entries per (disk, cell offset), for the disks of the last job (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._disks: Dict[DiskKey, Dict[int, CellBlocks]] = {}
        self._algo = ""

    def disk(self, key: DiskKey, algo_name: str) -> "Dict[int, CellBlocks]":
        """The entries of one disk; a different digest algorithm drops everything."""
        with self._lock:
            if algo_name != self._algo:
                self._disks, self._algo = {}, algo_name
            return self._disks.setdefault(key, {})

    def keep_only(self, keys: "List[DiskKey]") -> None:
        """Forget the disks of other jobs (memory stays bounded by one job's disks)."""
        with self._lock:
            self._disks = {k: v for k, v in self._disks.items() if k in keys}


def old_blocks(entries: "Dict[int, CellBlocks]", offset: int, length: int,
               base_digest: "Optional[bytes]") -> "Optional[array.array[int]]":
    """The block digests of the transit's copy of a cell, when the agent knows them.

    base_digest None: the transit holds no data there (zeros).
    """
    if base_digest is None:
        return zero_digests(length)
    found = entries.get(offset)
    return found.blocks if found is not None and found.digest == base_digest else None


PROCESS_BLOCKS = BlockDigests()  # kept for the agent process's life: cycles reuse it
