"""XFS: free space from each allocation group's by-block free-space B+tree (bnobt)."""

import struct
from typing import List, NamedTuple, Set, Tuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.reader import DiskReader, read_exact

Span = Tuple[int, int]
_MAX_LEVELS = 8


class XfsSuperblock(NamedTuple):
    """The XFS primary superblock fields the plan needs."""

    block_bytes: int
    data_blocks: int
    ag_blocks: int
    ag_count: int
    sector_bytes: int
    is_v5: bool

    @property
    def size_bytes(self) -> int:
        """Bytes of the data device the filesystem covers."""
        return self.data_blocks * self.block_bytes


def parse_xfs_superblock(raw: bytes) -> XfsSuperblock:
    """Decode and sanity-check the first 512 bytes of an XFS filesystem."""
    if raw[:4] != b"XFSB":
        raise DiskFormatError("XFS superblock has a bad magic")
    block, dblocks = struct.unpack_from(">IQ", raw, 4)
    agblocks, agcount = struct.unpack_from(">II", raw, 84)
    version, sectsize = struct.unpack_from(">HH", raw, 100)
    if block not in (512 << k for k in range(8)) or sectsize not in (512 << k for k in range(8)):
        raise DiskFormatError(f"XFS superblock: bad block size {block} or sector size {sectsize}")
    if not 0 < agblocks < 1 << 31 or agcount == 0 or agblocks * agcount < dblocks:
        raise DiskFormatError("XFS superblock: allocation groups do not cover the filesystem")
    return XfsSuperblock(block_bytes=block, data_blocks=dblocks, ag_blocks=agblocks,
                         ag_count=agcount, sector_bytes=sectsize, is_v5=(version & 0xF) == 5)


def _ag_bno_root(disk: DiskReader, offset: int, sb: XfsSuperblock, agno: int) -> Tuple[int, int]:
    """(root block, levels) of the by-block free-space tree of one allocation group."""
    agf_at = offset + agno * sb.ag_blocks * sb.block_bytes + sb.sector_bytes
    agf = read_exact(disk, agf_at, 64, f"XFS AGF {agno}")
    if agf[:4] != b"XAGF":
        raise DiskFormatError(f"XFS AGF {agno} has a bad magic")
    seqno, _length, root = struct.unpack_from(">III", agf, 8)
    (level,) = struct.unpack_from(">I", agf, 28)
    if seqno != agno or not 0 < level <= _MAX_LEVELS or not 0 < root < sb.ag_blocks:
        raise DiskFormatError(f"XFS AGF {agno} is inconsistent")
    return root, level


def _free_records(disk: DiskReader, offset: int, sb: XfsSuperblock, agno: int
                  ) -> List[Tuple[int, int]]:
    """All (start block, block count) free extents of one AG, from its bnobt."""
    root, levels = _ag_bno_root(disk, offset, sb, agno)
    header = 56 if sb.is_v5 else 16
    magic = b"AB3B" if sb.is_v5 else b"ABTB"
    ag_base = offset + agno * sb.ag_blocks * sb.block_bytes
    out: List[Tuple[int, int]] = []
    seen: Set[int] = set()
    stack = [(root, levels - 1)]
    while stack:
        agbno, level = stack.pop()
        if agbno in seen or not 0 < agbno < sb.ag_blocks:
            raise DiskFormatError(f"XFS AG {agno}: free-space tree points at block {agbno}")
        seen.add(agbno)
        block = read_exact(disk, ag_base + agbno * sb.block_bytes, sb.block_bytes,
                           f"XFS AG {agno} free-space tree")
        got_level, count = struct.unpack_from(">HH", block, 4)
        if block[:4] != magic or got_level != level:
            raise DiskFormatError(f"XFS AG {agno}: free-space tree block {agbno} is damaged")
        if level == 0:
            if header + count * 8 > sb.block_bytes:
                raise DiskFormatError(f"XFS AG {agno}: free-space leaf {agbno} overflows")
            out.extend(struct.unpack_from(">II", block, header + 8 * i) for i in range(count))
            continue
        maxrecs = (sb.block_bytes - header) // 12
        if count > maxrecs:
            raise DiskFormatError(f"XFS AG {agno}: free-space node {agbno} overflows")
        ptrs = struct.unpack_from(f">{count}I", block, header + maxrecs * 8)
        stack.extend((p, level - 1) for p in reversed(ptrs))
    return out


def xfs_free_spans(disk: DiskReader, offset: int = 0, *, min_free_bytes: int = 0) -> List[Span]:
    """Byte spans (relative to `offset`) that XFS records as free; metadata and log are kept."""
    sb = parse_xfs_superblock(read_exact(disk, offset, 512, "XFS superblock"))
    if sb.size_bytes > disk.size_bytes - offset:
        raise DiskFormatError("XFS filesystem is larger than its volume (truncated disk?)")
    out: List[Span] = []
    for agno in range(sb.ag_count):
        ag_first = agno * sb.ag_blocks
        ag_len = min(sb.ag_blocks, sb.data_blocks - ag_first)
        for start, count in _free_records(disk, offset, sb, agno):
            if start == 0 or start + count > ag_len:
                raise DiskFormatError(f"XFS AG {agno}: free extent {start}+{count} out of range")
            if count * sb.block_bytes >= min_free_bytes:
                first = (ag_first + start) * sb.block_bytes
                out.append((first, first + count * sb.block_bytes))
    return out
