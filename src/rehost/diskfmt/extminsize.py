"""Minimum size an ext2/3/4 filesystem can shrink to (the estimate of `resize2fs -P`)."""
from typing import NamedTuple

from rehost.diskfmt.ext import INCOMPAT_EXTENTS, INCOMPAT_FLEX_BG, ExtSuperblock
from rehost.diskfmt.extgroups import GroupDesc, inode_table_blocks, super_and_desc

MAGIC_SLACK_BLOCKS = 50  # resize2fs's "worth making a group" constant
MARGIN_BYTES = 8 << 20


class _Geometry(NamedTuple):
    """What the estimate needs, precomputed per filesystem."""

    sb: ExtSuperblock
    overheads: "list[int]"
    bpg: int
    flex: int


def _overhead(sb: ExtSuperblock, group: int, itb: int) -> int:
    """Fixed metadata blocks of a group: inode table, two bitmaps, super/descriptors."""
    return itb + 2 + sum(n for _, n in super_and_desc(sb, group))


def _geometry(sb: ExtSuperblock) -> "_Geometry":
    """Precompute per-group overheads."""
    itb = inode_table_blocks(sb)
    over = [_overhead(sb, g, itb) for g in range(sb.group_count)]
    flex = 1 << sb.log_groups_per_flex if sb.has(incompat=INCOMPAT_FLEX_BG) else 1
    return _Geometry(sb=sb, overheads=over, bpg=sb.blocks_per_group, flex=max(1, flex))


def _flex_cap(geo: "_Geometry", groups: int) -> int:
    """Groups rounded up to the next flex group boundary, capped at the group count."""
    if geo.flex <= 1:
        return groups
    return min(len(geo.overheads), groups + geo.flex - (groups & (geo.flex - 1)))


def _data_needed(geo: "_Geometry", descs: "list[GroupDesc]") -> int:
    """Blocks holding data: all blocks minus free and fixed per-group metadata."""
    ratio = geo.sb.cluster_bytes // geo.sb.block_bytes
    fixed = sum(min(d.free_clusters * ratio, geo.bpg) + o
                for d, o in zip(descs, geo.overheads))
    return max(0, geo.sb.blocks_count - fixed)


def _grow_for_data(geo: "_Geometry", data_needed: int, groups: int) -> "tuple[int, int, int]":
    """Add groups until the data fits; returns (groups, flex_groups, last_start)."""
    over, bpg = geo.overheads, geo.bpg
    flex_groups = _flex_cap(geo, groups)
    data_blocks = groups * bpg - sum(over[:flex_groups])
    last_start = sum(bpg - over[g] for g in range(min(flex_groups, groups - 1)))
    while data_needed > data_blocks:
        extra = -(-(data_needed - data_blocks) // bpg)
        data_blocks += extra * bpg
        last_start += bpg - over[groups - 1]
        grp = flex_groups
        groups += extra
        if geo.flex <= 1:
            flex_groups = groups
        elif groups > flex_groups:
            flex_groups = _flex_cap(geo, groups)
        for g in range(grp, flex_groups):
            if g < groups - 1:
                last_start += bpg - over[g]
            data_blocks -= over[g]
    return groups, flex_groups, last_start


def min_fs_blocks(sb: ExtSuperblock, descs: "list[GroupDesc]") -> int:
    """Minimum blocks of the filesystem, ported from resize2fs's calculate_minimum_resize_size."""
    if sb.cluster_bytes > sb.block_bytes:
        return sb.blocks_count  # bigalloc: resize2fs's cluster rules are not ported; no shrink
    geo = _geometry(sb)
    used_inodes = sb.inodes_count - sb.free_inodes
    data_needed = _data_needed(geo, descs)
    groups = max(1, -(-used_inodes // sb.inodes_per_group))
    groups, flex_groups, last_start = _grow_for_data(geo, data_needed, groups)
    if groups > len(descs):
        return sb.blocks_count
    grp = groups - 1
    if geo.flex > 1 and grp & ~(geo.flex - 1) == 0:
        grp &= ~(geo.flex - 1)
    tail = sum(geo.overheads[grp:flex_groups])
    tail += max(MAGIC_SLACK_BLOCKS, data_needed - last_start)
    tail += sb.first_data_block
    needed = (groups - 1) * geo.bpg + tail
    needed = max(needed, descs[groups - 1].inode_table + inode_table_blocks(sb))
    if needed >= sb.blocks_count:
        return sb.blocks_count
    if sb.has(incompat=INCOMPAT_EXTENTS):
        per_block = sb.block_bytes // 12 - 1
        worst = max(-(-data_needed // per_block), used_inodes)
        needed += min((sb.blocks_count - needed) // 500, worst)
    return needed


def min_fs_bytes(sb: ExtSuperblock, descs: "list[GroupDesc]") -> int:
    """Minimum size in bytes plus rehost's safety margin, never above the current size."""
    blocks = min_fs_blocks(sb, descs)
    return min(sb.size_bytes, blocks * sb.block_bytes + MARGIN_BYTES)
