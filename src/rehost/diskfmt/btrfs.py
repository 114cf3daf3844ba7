"""btrfs: the device ranges its chunks occupy (chunk tree); the rest of the device is unused."""

import struct
from typing import Dict, List, NamedTuple, Set, Tuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.reader import DiskReader, read_exact

Span = Tuple[int, int]
SUPER_AT = 0x10000
# the first MiB is never allocated by btrfs but may hold a boot loader: always sent
RESERVED_BYTES = 1 << 20
_MIRRORS = (0x10000, 0x4000000, 0x4000000000)
_CHUNK_ITEM = 228
_HEADER = 101
_MAX_LEVELS = 8
_RAID0, _RAID1, _DUP, _RAID10, _RAID5, _RAID6 = 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8


class Chunk(NamedTuple):
    """A chunk: its logical range and the (devid, physical offset) of each stripe."""

    logical: int
    length: int
    kind: int
    sub_stripes: int
    stripes: "List[Tuple[int, int]]"

    @property
    def stripe_bytes(self) -> int:
        """Bytes each stripe occupies on its device."""
        n = len(self.stripes)
        if self.kind & _RAID0:
            return self.length // n
        if self.kind & _RAID10:
            return self.length * max(1, self.sub_stripes) // n
        if self.kind & _RAID5:
            return self.length // max(1, n - 1)
        if self.kind & _RAID6:
            return self.length // max(1, n - 2)
        return self.length


class BtrfsSuperblock(NamedTuple):
    """The superblock fields the plan needs."""

    devid: int
    device_bytes: int
    node_bytes: int
    chunk_root: int
    chunk_root_level: int
    sys_chunks: "List[Chunk]"


def _chunk(raw: bytes, at: int, logical: int) -> "Tuple[Chunk, int]":
    """Decode a chunk item at `at`; returns it and the offset after it."""
    length, _owner, _stripe_len, kind = struct.unpack_from("<QQQQ", raw, at)
    count, sub = struct.unpack_from("<HH", raw, at + 44)
    if count == 0 or at + 48 + 32 * count > len(raw):
        raise DiskFormatError("btrfs chunk item is damaged")
    stripes = [struct.unpack_from("<QQ", raw, at + 48 + 32 * i) for i in range(count)]
    return Chunk(logical, length, kind, sub, [(d, o) for d, o in stripes]), at + 48 + 32 * count


def parse_btrfs_superblock(raw: bytes) -> BtrfsSuperblock:
    """Decode the primary superblock (4 KiB at 64 KiB) and its bootstrap chunk array."""
    if raw[0x40:0x48] != b"_BHRfS_M":
        raise DiskFormatError("btrfs superblock has a bad magic")
    (chunk_root,) = struct.unpack_from("<Q", raw, 88)
    (node,) = struct.unpack_from("<I", raw, 148)
    (array_size,) = struct.unpack_from("<I", raw, 160)
    level = raw[199]
    devid, dev_total = struct.unpack_from("<QQ", raw, 201)
    if node not in (4096 << k for k in range(5)) or array_size > 2048 or level > _MAX_LEVELS:
        raise DiskFormatError("btrfs superblock is inconsistent")
    array = raw[0x32B : 0x32B + array_size]
    chunks: List[Chunk] = []
    pos = 0
    while pos + 17 <= len(array):
        _obj, kind, logical = struct.unpack_from("<QBQ", array, pos)
        if kind != _CHUNK_ITEM:
            raise DiskFormatError("btrfs bootstrap chunk array is damaged")
        chunk, pos = _chunk(array, pos + 17, logical)
        chunks.append(chunk)
    return BtrfsSuperblock(devid, dev_total, node, chunk_root, level, chunks)


def _physical(chunks: "List[Chunk]", devid: int, logical: int) -> int:
    """Physical offset on `devid` of a tree block at `logical` (single, DUP or RAID1 chunks)."""
    for c in chunks:
        if c.logical <= logical < c.logical + c.length:
            if c.kind & (_RAID0 | _RAID10 | _RAID5 | _RAID6):
                raise DiskFormatError("btrfs chunk tree on a striped profile is not read")
            for dev, phys in c.stripes:
                if dev == devid:
                    return phys + logical - c.logical
    raise DiskFormatError(f"btrfs tree block at logical {logical} is not on this device")


def _chunk_tree(disk: DiskReader, offset: int, sb: BtrfsSuperblock) -> "List[Chunk]":
    """Every chunk item of the chunk tree."""
    out: List[Chunk] = []
    seen: Set[int] = set()
    stack = [(sb.chunk_root, sb.chunk_root_level)]
    while stack:
        logical, level = stack.pop()
        if logical in seen or len(seen) > 1 << 16:
            raise DiskFormatError("btrfs chunk tree has a loop")
        seen.add(logical)
        phys = _physical(sb.sys_chunks, sb.devid, logical)
        block = read_exact(disk, offset + phys, sb.node_bytes, "btrfs chunk tree")
        (count,) = struct.unpack_from("<I", block, 96)
        if block[100] != level or struct.unpack_from("<Q", block, 48)[0] != logical:
            raise DiskFormatError(f"btrfs chunk tree block at {logical} is damaged")
        if level > 0:
            if _HEADER + 33 * count > sb.node_bytes:
                raise DiskFormatError("btrfs chunk tree node overflows")
            for i in range(count):
                (ptr,) = struct.unpack_from("<Q", block, _HEADER + 33 * i + 17)
                stack.append((ptr, level - 1))
            continue
        out.extend(_leaf_chunks(block, count))
    return out


def _leaf_chunks(block: bytes, count: int) -> "List[Chunk]":
    """Chunk items of one chunk tree leaf."""
    out: List[Chunk] = []
    if _HEADER + 25 * count > len(block):
        raise DiskFormatError("btrfs chunk tree leaf overflows")
    for i in range(count):
        _obj, kind, logical, at, size = struct.unpack_from("<QBQII", block, _HEADER + 25 * i)
        if kind != _CHUNK_ITEM:
            continue
        if _HEADER + at + size > len(block):
            raise DiskFormatError("btrfs chunk item outside its leaf")
        out.append(_chunk(block[: _HEADER + at + size], _HEADER + at, logical)[0])
    return out


def btrfs_used_spans(disk: DiskReader, offset: int = 0) -> "List[Span]":
    """Device spans (relative to `offset`) that must be sent: chunks, superblocks, first MiB."""
    raw = read_exact(disk, offset + SUPER_AT, 4096, "btrfs superblock")
    sb = parse_btrfs_superblock(raw)
    size = disk.size_bytes - offset
    if sb.device_bytes > size:
        raise DiskFormatError("btrfs device is larger than its volume (truncated disk?)")
    used: Dict[int, int] = {0: RESERVED_BYTES}
    for at in _MIRRORS:
        if at + 4096 <= sb.device_bytes:
            used[at] = max(used.get(at, 0), at + 4096)
    for chunk in _chunk_tree(disk, offset, sb):
        for dev, phys in chunk.stripes:
            if dev == sb.devid:
                end = phys + chunk.stripe_bytes
                if end > sb.device_bytes:
                    raise DiskFormatError("btrfs chunk lies beyond the device")
                used[phys] = max(used.get(phys, 0), end)
    return sorted(used.items())
