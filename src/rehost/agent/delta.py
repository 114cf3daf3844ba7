"""Incremental passes on the agent: which cells changed since the transit's last pass."""

from collections.abc import Iterable
from typing import Any, Dict, NamedTuple, Optional, Tuple

from rehost import chunkdigest, wire
from rehost.agent.blockdigests import (
    MAX_CELLS,
    CellBlocks,
    block_digests,
    changed_runs,
    old_blocks,
)
from rehost.agent.reader import Cell
from rehost.agent.sendstate import ReadChunk
from rehost.protocol.hello import HelloOk


class DeltaBase(NamedTuple):
    """Digests of one target disk's non-zero cells before this pass (offset -> digest)."""

    disk_index: int
    size_bytes: int
    chunk_bytes: int
    digests: "dict[int, bytes]"
    algo: chunkdigest.ChunkDigest  # the digest agreed in HELLO

    def unchanged(self, cell: Cell, digest: bytes) -> bool:
        """Whether the target already holds exactly this cell (absent = zeros)."""
        return self.digests.get(cell.offset_bytes, self.algo.zero(cell.length_bytes)) == digest

    def freed_cells(self, planned_offsets: "Iterable[int]") -> "list[Cell]":
        """Cells with data on the target that the plan no longer has: they must become zeros."""
        gone = sorted(set(self.digests) - set(planned_offsets))
        return [Cell(self.disk_index, o, min(self.chunk_bytes, self.size_bytes - o), ())
                for o in gone if o < self.size_bytes]


def delta_bases(resume: "HelloOk", sizes: "dict[int, int]", chunk_bytes: int,
                algo: chunkdigest.ChunkDigest) -> "dict[int, DeltaBase] | None":
    """Per-disk bases from HELLO_OK when the transit runs a delta pass, else None."""
    if not resume.delta:
        return None
    return {d.index: DeltaBase(d.index, sizes[d.index], chunk_bytes,
                               wire.unpack_base(d.base or "", chunk_bytes), algo)
            for d in resume.disks}


def zero_chunk(cell: Cell, algo: chunkdigest.ChunkDigest) -> ReadChunk:
    """A freed cell as an all-zero chunk (a ZERO frame on the wire)."""
    return ReadChunk(cell, wire.zero_bytes(cell.length_bytes), algo.zero(cell.length_bytes),
                     True, lambda: None)


class PatchPlanner:
    """One disk of an incremental job: keeps its cells' block digests, finds changed blocks."""

    def __init__(self, entries: "Dict[int, CellBlocks]", base: "DeltaBase | None", *,
                 patches: bool) -> None:
        self._entries = entries
        self._base = base
        self._patches = patches and base is not None  # the transit takes DATA_PATCH

    def plan(self, cell: Cell, data: Any, digest: bytes, *, zero: bool,
             changed: bool) -> "Optional[Tuple[Tuple[int, int], ...]]":
        """Record the cell's block digests; the changed blocks' runs when a patch is smaller."""
        offset, length = cell.offset_bytes, cell.length_bytes
        if zero:
            self._entries.pop(offset, None)
            return None
        old = None
        if changed and self._patches and self._base is not None:
            old = old_blocks(self._entries, offset, length, self._base.digests.get(offset))
        known = self._entries.get(offset)
        new = known.blocks if known is not None and known.digest == digest else \
            block_digests(data)
        if offset in self._entries or len(self._entries) < MAX_CELLS:
            self._entries[offset] = CellBlocks(digest, new)
        if old is None or len(old) != len(new):
            return None
        runs = changed_runs(old, new, length)
        # no differing block although the digest differs: a stale entry or a collision
        return tuple(runs) if runs and sum(n for _s, n in runs) < length else None
