"""Read one ext inode and map its logical blocks to filesystem blocks (extents or indirect)."""

import struct
from typing import NamedTuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.ext import ExtSuperblock
from rehost.diskfmt.extgroups import GroupDesc
from rehost.diskfmt.reader import DiskReader, read_exact

EXTENTS_FL = 0x80000
EXTENT_MAGIC = 0xF30A
_MAX_DEPTH = 5
_INIT_MAX_LEN = 32768


class BlockMap(NamedTuple):
    """Logical -> physical block runs of an inode, plus the mapping blocks themselves."""

    runs: "tuple[tuple[int, int, int], ...]"  # (logical, physical, count)
    meta_blocks: "tuple[int, ...]"  # extent-tree or indirect blocks
    size_bytes: int

    def physical(self, count: int) -> "list[int]":
        """Physical block of each logical block 0..count-1; raises on any hole."""
        out = [-1] * count
        for logical, phys, n in self.runs:
            for k in range(max(0, min(n, count - logical))):
                out[logical + k] = phys + k
        if -1 in out:
            raise DiskFormatError(f"inode has a hole at logical block {out.index(-1)}")
        return out


def read_inode(disk: DiskReader, fs_offset: int, sb: ExtSuperblock,
               descs: "list[GroupDesc]", ino: int) -> bytes:
    """The raw on-disk inode `ino` (1-based)."""
    if not 1 <= ino <= sb.inodes_count:
        raise DiskFormatError(f"inode {ino} out of range")
    group, index = divmod(ino - 1, sb.inodes_per_group)
    table = descs[group].inode_table
    if not sb.first_data_block < table < sb.blocks_count:
        raise DiskFormatError(f"inode table of group {group} out of range")
    off = fs_offset + table * sb.block_bytes + index * sb.inode_bytes
    return read_exact(disk, off, sb.inode_bytes, f"inode {ino}")


def _check_block(sb: ExtSuperblock, block: int) -> int:
    """Fail on a block number outside the filesystem."""
    if not sb.first_data_block <= block < sb.blocks_count:
        raise DiskFormatError(f"inode maps block {block} outside the filesystem")
    return block


def _walk_extents(disk: DiskReader, fs_offset: int, sb: ExtSuperblock, node: bytes,
                  depth_left: int, runs: "list[tuple[int, int, int]]", meta: "list[int]") -> None:
    """Collect leaf extents under one extent-tree node."""
    magic, entries, _, depth = struct.unpack_from("<HHHH", node, 0)
    if magic != EXTENT_MAGIC or depth > depth_left or 12 + 12 * entries > len(node):
        raise DiskFormatError("inode extent tree is corrupt")
    for i in range(entries):
        off = 12 + 12 * i
        if depth == 0:
            logical, length, hi, lo = struct.unpack_from("<IHHI", node, off)
            length = length - _INIT_MAX_LEN if length > _INIT_MAX_LEN else length
            start = lo | hi << 32
            _check_block(sb, start + max(0, length - 1))
            runs.append((logical, _check_block(sb, start), length))
            continue
        _, lo, hi = struct.unpack_from("<IIH", node, off)
        child = _check_block(sb, lo | hi << 32)
        meta.append(child)
        raw = read_exact(disk, fs_offset + child * sb.block_bytes, sb.block_bytes, "extent block")
        _walk_extents(disk, fs_offset, sb, raw, depth - 1, runs, meta)


def _walk_indirect(disk: DiskReader, fs_offset: int, sb: ExtSuperblock, block: int,
                   level: int, logical: int, runs: "list[tuple[int, int, int]]",
                   meta: "list[int]") -> None:
    """Collect the data blocks under an indirect block of the given level (1..3)."""
    meta.append(_check_block(sb, block))
    raw = read_exact(disk, fs_offset + block * sb.block_bytes, sb.block_bytes, "indirect block")
    per = sb.block_bytes // 4
    span = per ** (level - 1)
    for i, ptr in enumerate(struct.unpack(f"<{per}I", raw)):
        if ptr == 0:
            continue
        if level == 1:
            runs.append((logical + i, _check_block(sb, ptr), 1))
        else:
            _walk_indirect(disk, fs_offset, sb, ptr, level - 1, logical + i * span, runs, meta)


def inode_block_map(disk: DiskReader, fs_offset: int, sb: ExtSuperblock, raw: bytes) -> "BlockMap":
    """Map an inode's blocks, through its extent tree or its indirect blocks."""
    flags = struct.unpack_from("<I", raw, 0x20)[0]
    size = struct.unpack_from("<I", raw, 0x4)[0] | struct.unpack_from("<I", raw, 0x6C)[0] << 32
    iblock = raw[0x28:0x28 + 60]
    runs: list[tuple[int, int, int]] = []
    meta: list[int] = []
    if flags & EXTENTS_FL:
        _walk_extents(disk, fs_offset, sb, iblock, _MAX_DEPTH, runs, meta)
    else:
        ptrs = struct.unpack("<15I", iblock)
        runs.extend((i, _check_block(sb, p), 1) for i, p in enumerate(ptrs[:12]) if p)
        per = sb.block_bytes // 4
        logical = 12
        for level, ptr in ((1, ptrs[12]), (2, ptrs[13]), (3, ptrs[14])):
            if ptr:
                _walk_indirect(disk, fs_offset, sb, ptr, level, logical, runs, meta)
            logical += per ** level
    return BlockMap(runs=tuple(sorted(runs)), meta_blocks=tuple(meta), size_bytes=size)
