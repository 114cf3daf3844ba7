"""ext block group descriptors and where each group's fixed metadata lives."""

import struct
from typing import NamedTuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.ext import (
    COMPAT_SPARSE_SUPER2,
    INCOMPAT_META_BG,
    RO_SPARSE_SUPER,
    ExtSuperblock,
)
from rehost.diskfmt.reader import DiskReader, read_exact

BG_INODE_UNINIT = 0x1
BG_BLOCK_UNINIT = 0x2


class GroupDesc(NamedTuple):
    """One block group descriptor (free count in clusters)."""

    block_bitmap: int
    inode_bitmap: int
    inode_table: int
    free_clusters: int
    flags: int
    itable_unused: int = 0  # inodes never used at the end of the group's inode table


def desc_per_block(sb: ExtSuperblock) -> int:
    """Group descriptors per block."""
    return sb.block_bytes // sb.desc_bytes


def desc_blocks(sb: ExtSuperblock) -> int:
    """Blocks the whole descriptor table takes."""
    return -(-sb.group_count // desc_per_block(sb))


def inode_table_blocks(sb: ExtSuperblock) -> int:
    """Blocks of one group's inode table."""
    return -(-sb.inodes_per_group * sb.inode_bytes // sb.block_bytes)


def group_first_block(sb: ExtSuperblock, group: int) -> int:
    """First block of a group."""
    return sb.first_data_block + group * sb.blocks_per_group


def _is_power_of(n: int, base: int) -> bool:
    """True if n is a power of base (n >= 1)."""
    while n % base == 0:
        n //= base
    return n == 1


def has_super(sb: ExtSuperblock, group: int) -> bool:
    """True when the group holds a superblock (primary or backup)."""
    if group == 0:
        return True
    if sb.has(compat=COMPAT_SPARSE_SUPER2):
        return group in sb.backup_bgs
    if group <= 1 or not sb.has(ro_compat=RO_SPARSE_SUPER):
        return True
    if group % 2 == 0:
        return False
    return _is_power_of(group, 3) or _is_power_of(group, 5) or _is_power_of(group, 7)


def old_desc_blocks(sb: ExtSuperblock) -> int:
    """Blocks after each superblock copy reserved for the old-style descriptor table."""
    if sb.has(incompat=INCOMPAT_META_BG):
        return sb.first_meta_bg
    return desc_blocks(sb) + sb.reserved_gdt_blocks


def super_and_desc(sb: ExtSuperblock, group: int) -> "list[tuple[int, int]]":
    """(first block, count) of the superblock and descriptor copies inside a group."""
    start = group_first_block(sb, group)
    if start == 0 and sb.block_bytes == 1024:
        start = 1
    sup = has_super(sb, group)
    out = [(start, 1)] if sup else []
    per = desc_per_block(sb)
    meta_bg = group // per
    if not sb.has(incompat=INCOMPAT_META_BG) or meta_bg < sb.first_meta_bg:
        if sup:
            out.append((start + 1, old_desc_blocks(sb)))
    elif group % per in (0, 1, per - 1):
        out.append((start + int(sup), 1))
    return out


def desc_block_location(sb: ExtSuperblock, index: int) -> int:
    """Block number of the primary copy of descriptor block `index`."""
    # 1 KiB blocks with bigalloc: first_data_block is 0 but the superblock is in block 1
    first = max(sb.first_data_block, int(sb.block_bytes == 1024)) + 1
    if not sb.has(incompat=INCOMPAT_META_BG) or index < sb.first_meta_bg:
        return first + index
    group = index * desc_per_block(sb)
    return group_first_block(sb, group) + int(has_super(sb, group))


def read_group_descs(disk: DiskReader, fs_offset: int, sb: ExtSuperblock) -> "list[GroupDesc]":
    """Read every group descriptor, coalescing contiguous descriptor blocks into one read."""
    locations = [desc_block_location(sb, i) for i in range(desc_blocks(sb))]
    raw = bytearray()
    i = 0
    while i < len(locations):
        j = i + 1
        while j < len(locations) and locations[j] == locations[j - 1] + 1:
            j += 1
        raw += read_exact(
            disk, fs_offset + locations[i] * sb.block_bytes, (j - i) * sb.block_bytes,
            "ext group descriptors",
        )
        i = j
    return [parse_desc(raw, g * sb.desc_bytes, sb.desc_bytes) for g in range(sb.group_count)]


def parse_desc(raw: bytearray, off: int, size: int) -> "GroupDesc":
    """Decode one descriptor, adding the high halves of 64-bit descriptors."""
    bb, ib, it, free, _, _, flags = struct.unpack_from("<IIIHHHH", raw, off)
    unused = struct.unpack_from("<H", raw, off + 0x1C)[0]
    if size >= 64:
        bb_hi, ib_hi, it_hi, free_hi = struct.unpack_from("<IIIH", raw, off + 0x20)
        bb, ib, it = bb | bb_hi << 32, ib | ib_hi << 32, it | it_hi << 32
        free |= free_hi << 16
        unused |= struct.unpack_from("<H", raw, off + 0x32)[0] << 16
    if bb == 0:
        raise DiskFormatError(f"ext group descriptor at byte {off} has no block bitmap")
    return GroupDesc(block_bitmap=bb, inode_bitmap=ib, inode_table=it, free_clusters=free,
                     flags=flags, itable_unused=unused)
