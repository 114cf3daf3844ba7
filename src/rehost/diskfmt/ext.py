"""ext2/3/4 superblock: geometry, counters, features and identity."""

import struct
import uuid
from typing import NamedTuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.reader import DiskReader

SUPERBLOCK_OFFSET = 1024
MAGIC = 0xEF53

COMPAT_HAS_JOURNAL = 0x4
COMPAT_RESIZE_INODE = 0x10
COMPAT_SPARSE_SUPER2 = 0x200
INCOMPAT_FILETYPE = 0x2
INCOMPAT_RECOVER = 0x4
INCOMPAT_JOURNAL_DEV = 0x8
INCOMPAT_META_BG = 0x10
INCOMPAT_EXTENTS = 0x40
INCOMPAT_64BIT = 0x80
INCOMPAT_FLEX_BG = 0x200
RO_SPARSE_SUPER = 0x1
RO_LARGE_FILE = 0x2
RO_BTREE_DIR = 0x4
RO_GDT_CSUM = 0x10
RO_BIGALLOC = 0x200
RO_METADATA_CSUM = 0x400

EXT3_INCOMPAT = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG
EXT3_RO = RO_SPARSE_SUPER | RO_LARGE_FILE | RO_BTREE_DIR

STATE_VALID = 0x1  # s_state: cleanly unmounted


class ExtSuperblock(NamedTuple):
    """The superblock fields rehost needs; counts are in blocks unless named otherwise."""

    block_bytes: int
    cluster_bytes: int
    blocks_count: int
    free_blocks: int
    reserved_blocks: int
    first_data_block: int
    blocks_per_group: int
    clusters_per_group: int
    inodes_count: int
    free_inodes: int
    inodes_per_group: int
    inode_bytes: int
    reserved_gdt_blocks: int
    desc_bytes: int
    first_meta_bg: int
    log_groups_per_flex: int
    feature_compat: int
    feature_incompat: int
    feature_ro_compat: int
    backup_bgs: "tuple[int, int]"
    uuid: str
    label: str
    last_mounted: str
    journal_inum: int = 0
    journal_dev: int = 0
    journal_uuid: str = ""
    state: int = STATE_VALID  # s_state: VALID_FS cleared while a journal-less fs is mounted

    @property
    def group_count(self) -> int:
        """Number of block groups."""
        return -(-(self.blocks_count - self.first_data_block) // self.blocks_per_group)

    @property
    def used_bytes(self) -> int:
        """Bytes in use: (blocks - free blocks) x block size."""
        return (self.blocks_count - self.free_blocks) * self.block_bytes

    @property
    def size_bytes(self) -> int:
        """Size of the filesystem."""
        return self.blocks_count * self.block_bytes

    def has(self, *, compat: int = 0, incompat: int = 0, ro_compat: int = 0) -> bool:
        """True when all the given feature bits are set."""
        return (
            self.feature_compat & compat == compat
            and self.feature_incompat & incompat == incompat
            and self.feature_ro_compat & ro_compat == ro_compat
        )

    @property
    def has_group_csum(self) -> bool:
        """True when block group flags (BLOCK_UNINIT...) are meaningful."""
        return bool(self.feature_ro_compat & (RO_GDT_CSUM | RO_METADATA_CSUM))

    @property
    def needs_recovery(self) -> bool:
        """True when the journal holds changes not yet written home (mounted or crashed)."""
        return self.has(incompat=INCOMPAT_RECOVER)

    @property
    def quiescent(self) -> bool:
        """True when nothing is pending: cleanly unmounted (or frozen), no journal replay due.

        A mounted ext4 with a journal sets needs_recovery; one without a journal clears
        VALID_FS. A frozen ext4 has flushed its journal and is consistent as it stands.
        """
        return bool(self.state & STATE_VALID) and not self.needs_recovery

    @property
    def fs_name(self) -> str:
        """ext2, ext3 or ext4, by the same rule as blkid."""
        journal = self.has(compat=COMPAT_HAS_JOURNAL)
        ext3_ok = (
            self.feature_incompat & ~EXT3_INCOMPAT == 0
            and self.feature_ro_compat & ~EXT3_RO == 0
        )
        if not ext3_ok:
            return "ext4"
        return "ext3" if journal else "ext2"


def _cstr(raw: bytes) -> str:
    """Decode a NUL-padded string field."""
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def probe_ext(disk: DiskReader, offset: int = 0) -> "ExtSuperblock | None":
    """Parse the superblock of an ext filesystem at `offset`, or None if there is none."""
    raw = disk.read_at(offset + SUPERBLOCK_OFFSET, 1024)
    if len(raw) < 1024 or struct.unpack_from("<H", raw, 0x38)[0] != MAGIC:
        return None
    return parse_superblock(raw)


def parse_superblock(raw: bytes) -> "ExtSuperblock":
    """Decode a 1024-byte superblock; raises DiskFormatError on impossible geometry."""
    (inodes, blocks_lo, r_lo, free_lo, free_inodes, first_data, log_block, log_cluster,
     bpg, cpg, ipg) = struct.unpack_from("<11I", raw, 0)
    inode_bytes = struct.unpack_from("<H", raw, 0x58)[0]
    rev_level = struct.unpack_from("<I", raw, 0x4C)[0]
    compat, incompat, ro_compat = struct.unpack_from("<III", raw, 0x5C)
    reserved_gdt = struct.unpack_from("<H", raw, 0xCE)[0]
    desc_bytes = struct.unpack_from("<H", raw, 0xFE)[0]
    first_meta_bg = struct.unpack_from("<I", raw, 0x104)[0]
    blocks_hi, r_hi, free_hi = struct.unpack_from("<III", raw, 0x150)
    is64 = bool(incompat & INCOMPAT_64BIT)
    if not is64:
        blocks_hi = r_hi = free_hi = 0
    if log_block > 6 or bpg == 0 or ipg == 0:
        raise DiskFormatError(f"ext superblock geometry invalid (log {log_block}, bpg {bpg})")
    block_bytes = 1024 << log_block
    bigalloc = bool(ro_compat & RO_BIGALLOC)
    return ExtSuperblock(
        block_bytes=block_bytes,
        cluster_bytes=(1024 << log_cluster) if bigalloc else block_bytes,
        blocks_count=blocks_lo | blocks_hi << 32,
        free_blocks=free_lo | free_hi << 32,
        reserved_blocks=r_lo | r_hi << 32,
        first_data_block=first_data, blocks_per_group=bpg,
        clusters_per_group=cpg if bigalloc else bpg,
        inodes_count=inodes, free_inodes=free_inodes, inodes_per_group=ipg,
        inode_bytes=inode_bytes if rev_level >= 1 else 128,
        reserved_gdt_blocks=reserved_gdt if compat & COMPAT_RESIZE_INODE else 0,
        desc_bytes=desc_bytes if is64 and desc_bytes >= 64 else 32,
        first_meta_bg=first_meta_bg, log_groups_per_flex=raw[0x174],
        feature_compat=compat, feature_incompat=incompat, feature_ro_compat=ro_compat,
        backup_bgs=struct.unpack_from("<II", raw, 0x24C),
        uuid=str(uuid.UUID(bytes=raw[0x68:0x78])), label=_cstr(raw[0x78:0x88]),
        last_mounted=_cstr(raw[0x88:0xC8]),
        journal_inum=struct.unpack_from("<I", raw, 0xE0)[0],
        state=struct.unpack_from("<H", raw, 0x3A)[0],
        journal_dev=struct.unpack_from("<I", raw, 0xE4)[0],
        journal_uuid="" if not any(raw[0xD0:0xE0]) else str(uuid.UUID(bytes=raw[0xD0:0xE0])),
    )
