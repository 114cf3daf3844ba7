"""Free and allocated block ranges of an ext2/3/4 filesystem, from its block bitmaps."""

import re
from functools import lru_cache
from typing import NamedTuple

from rehost.diskfmt.ext import RO_BIGALLOC, ExtSuperblock
from rehost.diskfmt.extent import Span, normalize, subtract
from rehost.diskfmt.extgroups import (
    BG_BLOCK_UNINIT,
    GroupDesc,
    group_first_block,
    inode_table_blocks,
    read_group_descs,
    super_and_desc,
)
from rehost.diskfmt.extjournal import JournalOverlay
from rehost.diskfmt.reader import DiskReader

_READ_CAP_BYTES = 64 << 20


class ExtAllocation(NamedTuple):
    """Free byte spans (absolute on the disk) and notes on groups copied whole."""

    free_spans: "tuple[Span, ...]"
    notes: "tuple[str, ...]"


@lru_cache(maxsize=16)
def _free_run(min_units: int) -> "re.Pattern[str]":
    """Regex for runs of at least `min_units` free bits."""
    return re.compile(f"0{{{max(1, min_units)},}}")


def _units_in_group(sb: ExtSuperblock, group: int) -> int:
    """Bitmap bits (clusters) that belong to the filesystem in this group."""
    ratio = sb.cluster_bytes // sb.block_bytes
    blocks = min(sb.blocks_per_group, sb.blocks_count - group_first_block(sb, group))
    return min(sb.clusters_per_group, -(-blocks // ratio))


def _bits(raw: bytes, count: int) -> str:
    """The first `count` bits of a little-endian bitmap as a '0'/'1' string, bit 0 first."""
    nbits = len(raw) * 8
    return format(int.from_bytes(raw, "little"), f"0{nbits}b")[::-1][:count]


def _metadata_by_group(sb: ExtSuperblock, descs: "list[GroupDesc]") -> "dict[int, list[Span]]":
    """Every group's bitmaps and inode table, keyed by the group the blocks lie in."""
    out: dict[int, list[Span]] = {}
    itb = inode_table_blocks(sb)
    for d in descs:
        for start, count in ((d.block_bitmap, 1), (d.inode_bitmap, 1), (d.inode_table, itb)):
            if start == 0:
                continue
            end = start + count
            while start < end:
                g = max(0, (start - sb.first_data_block) // sb.blocks_per_group)
                stop = min(end, group_first_block(sb, g + 1))
                out.setdefault(g, []).append((start, stop))
                start = stop
    return out


def _uninit_bits(sb: ExtSuperblock, group: int, meta: "dict[int, list[Span]]") -> str:
    """Bitmap of a BLOCK_UNINIT group: only superblock/descriptor copies and metadata used."""
    first = group_first_block(sb, group)
    bits = bytearray(b"0" * _units_in_group(sb, group))
    spans = [(s, s + n) for s, n in super_and_desc(sb, group)] + meta.get(group, [])
    for start, end in spans:
        lo, hi = max(0, start - first), min(len(bits), end - first)
        if hi > lo:
            bits[lo:hi] = b"1" * (hi - lo)
    return bits.decode()


def _read_bitmaps(
    disk: DiskReader, fs_offset: int, sb: ExtSuperblock, wanted: "dict[int, int]"
) -> "dict[int, bytes]":
    """Read the block bitmaps {group: block}, coalescing adjacent blocks into big reads."""
    order = sorted(wanted.items(), key=lambda kv: kv[1])
    out: dict[int, bytes] = {}
    bs = sb.block_bytes
    i = 0
    while i < len(order):
        j = i + 1
        while (j < len(order) and order[j][1] == order[j - 1][1] + 1
               and (j - i) * bs < _READ_CAP_BYTES):
            j += 1
        raw = disk.read_at(fs_offset + order[i][1] * bs, (j - i) * bs)
        for k in range(i, j):
            out[order[k][0]] = raw[(k - i) * bs : (k - i + 1) * bs]
        i = j
    return out


def _group_bits(
    sb: ExtSuperblock, group: int, desc: GroupDesc, raw: "bytes | None",
    meta: "dict[int, list[Span]]", notes: "list[str]",
) -> "str | None":
    """The group's bitmap bits, or None when it must be treated as fully allocated."""
    count = _units_in_group(sb, group)
    if sb.has_group_csum and desc.flags & BG_BLOCK_UNINIT:
        if sb.has(ro_compat=RO_BIGALLOC):
            notes.append(f"group {group}: BLOCK_UNINIT with bigalloc, copied whole")
            return None
        return _uninit_bits(sb, group, meta)
    if raw is None or len(raw) * 8 < count:
        notes.append(f"group {group}: block bitmap unreadable, copied whole")
        return None
    bits = _bits(raw, count)
    if bits.count("0") != desc.free_clusters:
        notes.append(f"group {group}: bitmap disagrees with free count, copied whole")
        return None
    return bits


def _replayed_bits(
    sb: ExtSuperblock, group: int, desc: GroupDesc, raw: "bytes | None",
    meta: "dict[int, list[Span]]", copies: "list[bytes]",
) -> "str | None":
    """Union of the on-disk bitmap and every journal copy of it; None if unreadable."""
    count = _units_in_group(sb, group)
    if raw is None or len(raw) * 8 < count:
        return None
    readable = [raw] + [c for c in copies if len(c) == len(raw)]
    value = 0
    for r in readable:
        value |= int.from_bytes(r, "little")
    bits = format(value, f"0{len(readable[0]) * 8}b")[::-1][:count]
    if sb.has_group_csum and desc.flags & BG_BLOCK_UNINIT:
        if sb.has(ro_compat=RO_BIGALLOC):
            return None
        uninit = _uninit_bits(sb, group, meta)
        bits = "".join("1" if "1" in (a, b) else "0" for a, b in zip(bits, uninit))
    return bits


def unused_inode_tables(sb: ExtSuperblock, descs: "list[GroupDesc]") -> "list[Span]":
    """Block spans of inode tables past each group's `itable_unused` mark (never-used inodes).

    Meaningful only with group checksums (uninit_bg / metadata_csum), where the kernel and
    e2fsck read no inode past the mark; e2image and partclone skip these blocks too. mke2fs
    with lazy_itable_init leaves stale disk data there, incompressible on the wire.
    """
    if not sb.has_group_csum:
        return []
    itb = inode_table_blocks(sb)
    per_block = sb.block_bytes // sb.inode_bytes
    out: list[Span] = []
    for d in descs:
        unused = min(d.itable_unused, sb.inodes_per_group)
        if d.inode_table == 0 or unused == 0:
            continue
        used_blocks = -(-(sb.inodes_per_group - unused) // per_block)
        if used_blocks < itb:
            out.append((d.inode_table + used_blocks, d.inode_table + itb))
    return out


def _wanted_bitmaps(sb: ExtSuperblock, descs: "list[GroupDesc]",
                    overlay: "JournalOverlay | None") -> "dict[int, int]":
    """{group: bitmap block} to read: initialized groups, plus any the journal touches."""
    touched = overlay.touched_groups if overlay else frozenset()
    return {
        g: d.block_bitmap for g, d in enumerate(descs)
        if sb.first_data_block <= d.block_bitmap < sb.blocks_count
        and (g in touched or not (sb.has_group_csum and d.flags & BG_BLOCK_UNINIT))
    }


def ext_allocation(
    disk: DiskReader, fs_offset: int, sb: ExtSuperblock, *, min_free_bytes: int = 0,
    overlay: "JournalOverlay | None" = None, skip_unused_inodes: bool = False,
) -> "ExtAllocation":
    """Free spans of the fs at `fs_offset` (runs >= min_free_bytes), conservative when unsure.

    skip_unused_inodes: also count inode-table blocks past `itable_unused` as free, only when
    the filesystem is quiescent (no journal replay pending, not mounted without a journal),
    so that the descriptors read now are the ones the copy will hold.
    """
    descs = read_group_descs(disk, fs_offset, sb)
    meta = _metadata_by_group(sb, descs)
    bitmaps = _read_bitmaps(disk, fs_offset, sb, _wanted_bitmaps(sb, descs, overlay))
    touched = overlay.touched_groups if overlay else frozenset()
    notes: list[str] = []
    unit = sb.cluster_bytes
    pattern = _free_run(-(-min_free_bytes // unit))
    free: list[Span] = []
    for g, d in enumerate(descs):
        if overlay is not None and g in touched:
            bits = _replayed_bits(sb, g, d, bitmaps.get(g), meta, overlay.copies_of(g))
            if bits is None:
                notes.append(f"group {g}: no readable bitmap for the journal replay, copied whole")
        else:
            bits = _group_bits(sb, g, d, bitmaps.get(g), meta, notes)
        if bits is None:
            continue
        base = fs_offset + group_first_block(sb, g) * sb.block_bytes
        free.extend((base + m.start() * unit, base + m.end() * unit)
                    for m in pattern.finditer(bits))
    if skip_unused_inodes and overlay is None and sb.quiescent:
        bs = sb.block_bytes
        free.extend((fs_offset + a * bs, fs_offset + b * bs)
                    for a, b in unused_inode_tables(sb, descs)
                    if (b - a) * bs >= min_free_bytes)
    end = fs_offset + sb.blocks_count * sb.block_bytes
    clipped = [(s, min(e, end)) for s, e in free]
    if overlay is not None:
        clipped = subtract(normalize(clipped), list(overlay.journal_spans))
    return ExtAllocation(free_spans=tuple(normalize(clipped)), notes=tuple(notes))


def allocated_spans(disk: DiskReader, fs_offset: int, sb: ExtSuperblock) -> "list[Span]":
    """Allocated byte spans of the filesystem (its whole range minus free spans)."""
    whole = [(fs_offset, fs_offset + sb.blocks_count * sb.block_bytes)]
    return subtract(whole, list(ext_allocation(disk, fs_offset, sb).free_spans))
