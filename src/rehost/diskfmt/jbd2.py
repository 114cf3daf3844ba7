"""jbd2 journal of ext3/4: superblock and every descriptor tag found in the log area."""

import struct
from typing import NamedTuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.reader import DiskReader

JBD2_MAGIC = 0xC03B3998
JBD2_MAGIC_BYTES = struct.pack(">I", JBD2_MAGIC)
DESCRIPTOR_BLOCK = 1
SUPERBLOCK_V1 = 3
SUPERBLOCK_V2 = 4

INCOMPAT_REVOKE = 0x1
INCOMPAT_64BIT = 0x2
INCOMPAT_ASYNC_COMMIT = 0x4
INCOMPAT_CSUM_V2 = 0x8
INCOMPAT_CSUM_V3 = 0x10
INCOMPAT_FAST_COMMIT = 0x20
KNOWN_INCOMPAT = (INCOMPAT_REVOKE | INCOMPAT_64BIT | INCOMPAT_ASYNC_COMMIT
                  | INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3)

FLAG_ESCAPE = 0x1
FLAG_SAME_UUID = 0x2
FLAG_LAST_TAG = 0x8

# a descriptor this far behind the journal's oldest live transaction is not from this fs's log
_MAX_SEQ_BEHIND = 1 << 24
_SCAN_CHUNK_BYTES = 8 << 20


class JournalSuper(NamedTuple):
    """The fields of a jbd2 superblock the scan needs."""

    block_bytes: int
    max_len: int
    first: int
    sequence: int
    start: int
    incompat: int

    @property
    def tag_bytes(self) -> int:
        """Size of one descriptor tag (UUID not counted)."""
        if self.incompat & INCOMPAT_CSUM_V3:
            return 16
        size = 12 + (2 if self.incompat & INCOMPAT_CSUM_V2 else 0)
        return size if self.incompat & INCOMPAT_64BIT else size - 4

    @property
    def tail_bytes(self) -> int:
        """Checksum tail at the end of descriptor blocks."""
        return 4 if self.incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3) else 0


class JournalTag(NamedTuple):
    """One logged block: its home in the filesystem and the log block holding its copy."""

    target: int
    log_block: int
    escaped: bool
    sequence: int


class JournalScan(NamedTuple):
    """Every tag of every plausible descriptor block, and descriptors ignored as foreign."""

    tags: "tuple[JournalTag, ...]"
    descriptors: int
    ignored_descriptors: int


def parse_journal_super(raw: bytes, fs_block_bytes: int, journal_blocks: int) -> "JournalSuper":
    """Decode and sanity-check a jbd2 superblock; raises DiskFormatError when unusable."""
    magic, kind, _ = struct.unpack_from(">III", raw, 0)
    if magic != JBD2_MAGIC or kind not in (SUPERBLOCK_V1, SUPERBLOCK_V2):
        raise DiskFormatError("journal superblock has no jbd2 magic")
    bs, max_len, first, seq, start = struct.unpack_from(">IIIII", raw, 12)
    incompat = struct.unpack_from(">I", raw, 40)[0] if kind == SUPERBLOCK_V2 else 0
    if bs != fs_block_bytes:
        raise DiskFormatError(f"journal block size {bs} differs from the filesystem's")
    if not 1 <= first < max_len <= journal_blocks:
        raise DiskFormatError(f"journal geometry invalid (first {first}, length {max_len})")
    if incompat & INCOMPAT_FAST_COMMIT:
        raise DiskFormatError("journal uses fast commits (not parsed)")
    if incompat & ~KNOWN_INCOMPAT:
        raise DiskFormatError(f"journal has unknown incompat features {incompat:#x}")
    return JournalSuper(block_bytes=bs, max_len=max_len, first=first, sequence=seq,
                        start=start, incompat=incompat)


def _plausible(js: "JournalSuper", seq: int) -> bool:
    """True when a descriptor's sequence could belong to this journal's recent history."""
    delta = (seq - js.sequence) & 0xFFFFFFFF
    return delta <= js.max_len or delta >= (1 << 32) - _MAX_SEQ_BEHIND


def _next_log(js: "JournalSuper", block: int) -> int:
    """The log block after `block`, wrapping from the end of the log to its start."""
    block += 1
    return js.first if block >= js.max_len else block


def parse_descriptor(js: "JournalSuper", raw: bytes, log_block: int) -> "list[JournalTag]":
    """Tags of one descriptor block; each names the next log block in order."""
    seq = struct.unpack_from(">I", raw, 8)[0]
    tags: list[JournalTag] = []
    off, end, size = 12, js.block_bytes - js.tail_bytes, js.tag_bytes
    data = log_block
    while off + size <= end:
        if js.incompat & INCOMPAT_CSUM_V3:
            low, flags, high = struct.unpack_from(">III", raw, off)
        else:
            low, _, flags = struct.unpack_from(">IHH", raw, off)
            high = struct.unpack_from(">I", raw, off + 8)[0] if size >= 12 else 0
        target = low | (high << 32 if js.incompat & INCOMPAT_64BIT else 0)
        data = _next_log(js, data)
        tags.append(JournalTag(target=target, log_block=data,
                               escaped=bool(flags & FLAG_ESCAPE), sequence=seq))
        off += size + (0 if flags & FLAG_SAME_UUID else 16)
        if flags & FLAG_LAST_TAG:
            break
    return tags


def _log_chunks(js: "JournalSuper", physical: "list[int]") -> "list[tuple[int, int]]":
    """(first log block, count) runs of the log area that are contiguous on disk."""
    runs: list[tuple[int, int]] = []
    cap = max(1, _SCAN_CHUNK_BYTES // js.block_bytes)
    for j in range(js.first, js.max_len):
        if runs and physical[j] == physical[j - 1] + 1 and runs[-1][1] < cap:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((j, 1))
    return runs


def scan_journal(disk: DiskReader, fs_offset: int, js: "JournalSuper",
                 physical: "list[int]") -> "JournalScan":
    """Read the whole log area and collect the tags of every plausible descriptor block."""
    bs = js.block_bytes
    tags: list[JournalTag] = []
    found = ignored = 0
    for first, count in _log_chunks(js, physical):
        raw = disk.read_at(fs_offset + physical[first] * bs, count * bs)
        if len(raw) != count * bs:
            raise DiskFormatError("journal: disk too short")
        for k in range(count):
            if raw[k * bs:k * bs + 4] != JBD2_MAGIC_BYTES:
                continue
            block = raw[k * bs:(k + 1) * bs]
            kind, seq = struct.unpack_from(">II", block, 4)
            if kind != DESCRIPTOR_BLOCK:
                continue
            if not _plausible(js, seq):
                ignored += 1
                continue
            found += 1
            tags.extend(parse_descriptor(js, block, first + k))
    return JournalScan(tags=tuple(tags), descriptors=found, ignored_descriptors=ignored)


def unescape(raw: bytes, tag: "JournalTag") -> bytes:
    """A logged copy as it will be written home: escaped blocks get their magic back."""
    return JBD2_MAGIC_BYTES + raw[4:] if tag.escaped else raw
