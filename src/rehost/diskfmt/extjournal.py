"""What a pending journal replay will add to an ext fs's block bitmaps (conservatively)."""
from typing import NamedTuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.ext import COMPAT_HAS_JOURNAL, ExtSuperblock, parse_superblock
from rehost.diskfmt.extent import Span, normalize
from rehost.diskfmt.extgroups import (
    BG_BLOCK_UNINIT,
    GroupDesc,
    desc_block_location,
    desc_blocks,
    desc_per_block,
    parse_desc,
    read_group_descs,
)
from rehost.diskfmt.extinode import inode_block_map, read_inode
from rehost.diskfmt.jbd2 import JournalTag, parse_journal_super, scan_journal, unescape
from rehost.diskfmt.reader import DiskReader, read_exact

# geometry a journaled superblock copy must share with the on-disk one
_GEOMETRY = ("block_bytes", "cluster_bytes", "blocks_count", "first_data_block",
             "blocks_per_group", "clusters_per_group", "desc_bytes", "reserved_gdt_blocks",
             "first_meta_bg", "feature_incompat", "inodes_per_group")


class JournalOverlay(NamedTuple):
    """Journal copies of block bitmaps per group, groups to treat as initialized, the journal."""

    bitmap_copies: "tuple[tuple[int, bytes], ...]"  # (group, bitmap block as replay writes it)
    init_groups: "frozenset[int]"
    journal_spans: "tuple[Span, ...]"  # disk byte spans of the journal inode

    def copies_of(self, group: int) -> "list[bytes]":
        """Journal copies of one group's block bitmap."""
        return [raw for g, raw in self.bitmap_copies if g == group]

    @property
    def touched_groups(self) -> "frozenset[int]":
        """Groups whose bitmap the replay may change or initialize."""
        return self.init_groups | {g for g, _ in self.bitmap_copies}


def _journal_map(disk: DiskReader, fs_offset: int, sb: ExtSuperblock,
                 descs: "list[GroupDesc]") -> "tuple[list[int], list[Span]]":
    """Physical block of each journal block, and the fs block spans the journal occupies."""
    if sb.journal_dev or sb.journal_uuid:
        raise DiskFormatError("external journal (not read)")
    if sb.journal_inum == 0 or not sb.has(compat=COMPAT_HAS_JOURNAL):
        raise DiskFormatError("no internal journal")
    bmap = inode_block_map(disk, fs_offset, sb, read_inode(disk, fs_offset, sb, descs,
                                                            sb.journal_inum))
    count = bmap.size_bytes // sb.block_bytes
    if count < 2:
        raise DiskFormatError("journal inode is empty")
    spans = [(p, p + n) for _, p, n in bmap.runs] + [(b, b + 1) for b in bmap.meta_blocks]
    return bmap.physical(count), normalize(spans)


def _read_copy(disk: DiskReader, fs_offset: int, sb: ExtSuperblock, physical: "list[int]",
               tag: JournalTag) -> bytes:
    """The block a replay would write for `tag`."""
    off = fs_offset + physical[tag.log_block] * sb.block_bytes
    return unescape(read_exact(disk, off, sb.block_bytes, "journal copy"), tag)


def _check_super_copy(sb: ExtSuperblock, raw: bytes) -> None:
    """A journaled superblock must not change the geometry (online resize): else give up."""
    at = 1024 if sb.block_bytes > 1024 else 0
    copy = parse_superblock(raw[at:at + 1024])
    for name in _GEOMETRY:
        if getattr(copy, name) != getattr(sb, name):
            raise DiskFormatError(f"journaled superblock changes {name} (resize pending)")


def _gdt_groups(sb: ExtSuperblock, descs: "list[GroupDesc]", index: int, raw: bytes) -> "set[int]":
    """Groups a journaled descriptor block leaves initialized (BLOCK_UNINIT clear)."""
    per = desc_per_block(sb)
    out: set[int] = set()
    for g in range(index * per, min(sb.group_count, (index + 1) * per)):
        copy = parse_desc(bytearray(raw), (g - index * per) * sb.desc_bytes, sb.desc_bytes)
        if copy.block_bitmap != descs[g].block_bitmap:
            raise DiskFormatError(f"journaled descriptor moves group {g}'s bitmap")
        # a group every copy still calls BLOCK_UNINIT stays so after the replay
        if not (sb.has_group_csum and copy.flags & BG_BLOCK_UNINIT):
            out.add(g)
    return out


def journal_overlay(disk: DiskReader, fs_offset: int, sb: ExtSuperblock) -> "JournalOverlay":
    """Read the internal journal and collect every logged bitmap, descriptor and superblock."""
    descs = read_group_descs(disk, fs_offset, sb)
    physical, spans = _journal_map(disk, fs_offset, sb, descs)
    js = parse_journal_super(
        read_exact(disk, fs_offset + physical[0] * sb.block_bytes, sb.block_bytes,
                   "journal superblock"), sb.block_bytes, len(physical))
    scan = scan_journal(disk, fs_offset, js, physical)
    bitmap_group = {d.block_bitmap: g for g, d in enumerate(descs)}
    gdt_index = {desc_block_location(sb, i): i for i in range(desc_blocks(sb))}
    sb_block = 0 if sb.block_bytes > 1024 else 1
    copies: list[tuple[int, bytes]] = []
    init: set[int] = set()
    for tag in scan.tags:
        if not sb.first_data_block <= tag.target < sb.blocks_count and tag.target != 0:
            raise DiskFormatError(f"journal tag names block {tag.target} outside the fs")
        if tag.target in bitmap_group:
            copies.append((bitmap_group[tag.target], _read_copy(disk, fs_offset, sb, physical,
                                                                tag)))
        elif tag.target in gdt_index:
            raw = _read_copy(disk, fs_offset, sb, physical, tag)
            init.update(_gdt_groups(sb, descs, gdt_index[tag.target], raw))
        elif tag.target == sb_block:
            _check_super_copy(sb, _read_copy(disk, fs_offset, sb, physical, tag))
    fs_spans = tuple((fs_offset + s * sb.block_bytes, fs_offset + e * sb.block_bytes)
                     for s, e in spans)
    return JournalOverlay(bitmap_copies=tuple(copies), init_groups=frozenset(init),
                          journal_spans=fs_spans)
