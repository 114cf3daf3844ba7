"""btrfs: device ranges of allocated extents (chunk tree + extent tree); the rest is unused."""

import struct
from typing import Dict, List, NamedTuple, Set, Tuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.extent import intersect, normalize
from rehost.diskfmt.reader import DiskReader, read_exact

Span = Tuple[int, int]
SUPER_AT = 0x10000
# the first MiB is never allocated by btrfs but may hold a boot loader: always sent
RESERVED_BYTES = 1 << 20
_MIRRORS = (0x10000, 0x4000000, 0x4000000000)
_CHUNK_ITEM = 228
_HEADER = 101
_MAX_LEVELS = 8
_ROOT_ITEM, _EXTENT_ITEM, _METADATA_ITEM, _EXTENT_TREE = 132, 168, 169, 2
_RAID0, _RAID1, _DUP, _RAID10, _RAID5, _RAID6 = 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
_STRIPED = _RAID0 | _RAID10 | _RAID5 | _RAID6
# subvolume tree IDs (BTRFS_FIRST_FREE_OBJECTID .. LAST_FREE); parent_uuid's offset in a root item
_FIRST_SUBVOL, _LAST_SUBVOL, _PARENT_UUID_AT = 256, (1 << 64) - 256, 263


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
    root: int
    root_level: int


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
    root, chunk_root = struct.unpack_from("<QQ", raw, 80)
    (node,) = struct.unpack_from("<I", raw, 148)
    (array_size,) = struct.unpack_from("<I", raw, 160)
    level = raw[199]
    root_level = raw[198]
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
    return BtrfsSuperblock(devid, dev_total, node, chunk_root, level, chunks, root, root_level)


def _physical(chunks: "List[Chunk]", devid: int, logical: int) -> int:
    """Physical offset on `devid` of a tree block at `logical` (single, DUP or RAID1 chunks)."""
    for c in chunks:
        if c.logical <= logical < c.logical + c.length:
            if c.kind & _STRIPED:
                raise DiskFormatError("btrfs chunk tree on a striped profile is not read")
            for dev, phys in c.stripes:
                if dev == devid:
                    return phys + logical - c.logical
    raise DiskFormatError(f"btrfs tree block at logical {logical} is not on this device")


Item = Tuple[int, int, int, bytes]  # key objectid, key type, key offset, item data


def _tree_items(disk: DiskReader, offset: int, sb: BtrfsSuperblock, chunks: "List[Chunk]",
                root: "Tuple[int, int]", keep: "Set[int]") -> "List[Item]":
    """The leaf items of types `keep` of the tree whose root block is `root` (logical, level)."""
    out: List[Item] = []
    seen: Set[int] = set()
    stack = [root]
    while stack:
        logical, level = stack.pop()
        if logical in seen or len(seen) > 1 << 20 or level > _MAX_LEVELS:
            raise DiskFormatError("btrfs tree has a loop or is too deep")
        seen.add(logical)
        phys = _physical(chunks, sb.devid, logical)
        block = read_exact(disk, offset + phys, sb.node_bytes, "btrfs tree block")
        (count,) = struct.unpack_from("<I", block, 96)
        if block[100] != level or struct.unpack_from("<Q", block, 48)[0] != logical:
            raise DiskFormatError(f"btrfs tree block at {logical} is damaged")
        if level > 0:
            if _HEADER + 33 * count > sb.node_bytes:
                raise DiskFormatError("btrfs tree node overflows")
            for i in range(count):
                (ptr,) = struct.unpack_from("<Q", block, _HEADER + 33 * i + 17)
                stack.append((ptr, level - 1))
            continue
        out.extend(_leaf_items(block, count, keep))
    return out


def _leaf_items(block: bytes, count: int, keep: "Set[int]") -> "List[Item]":
    """(objectid, type, offset, data) of each item of one leaf whose type is in `keep`."""
    if _HEADER + 25 * count > len(block):
        raise DiskFormatError("btrfs tree leaf overflows")
    out: List[Item] = []
    for i in range(count):
        obj, kind, key_off, at, size = struct.unpack_from("<QBQII", block, _HEADER + 25 * i)
        if kind not in keep:
            continue
        if _HEADER + at + size > len(block):
            raise DiskFormatError("btrfs item outside its leaf")
        # extent items need only their key: no copy of their data (there may be millions)
        data = b"" if kind in (_EXTENT_ITEM, _METADATA_ITEM) else block[_HEADER + at :
                                                                          _HEADER + at + size]
        out.append((obj, kind, key_off, data))
    return out


def _chunk_tree(disk: DiskReader, offset: int, sb: BtrfsSuperblock) -> "List[Chunk]":
    """Every chunk item of the chunk tree."""
    items = _tree_items(disk, offset, sb, sb.sys_chunks, (sb.chunk_root, sb.chunk_root_level),
                        {_CHUNK_ITEM})
    return [_chunk(data, 0, key_off)[0] for _o, kind, key_off, data in items
            if kind == _CHUNK_ITEM]


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
    chunks = _chunk_tree(disk, offset, sb)
    extents = _used_logical(disk, offset, sb, chunks)
    for chunk in chunks:
        for dev, phys in chunk.stripes:
            if dev != sb.devid:
                continue
            if phys + chunk.stripe_bytes > sb.device_bytes:
                raise DiskFormatError("btrfs chunk lies beyond the device")
            if chunk.kind & _STRIPED:  # logical-to-physical is not linear: keep it all
                used[phys] = max(used.get(phys, 0), phys + chunk.stripe_bytes)
                continue
            lo, hi = chunk.logical, chunk.logical + chunk.length
            for start, end in intersect(extents, [(lo, hi)]):
                used[phys + start - lo] = max(used.get(phys + start - lo, 0), phys + end - lo)
    return sorted(used.items())


def btrfs_snapshots(disk: DiskReader, offset: int = 0) -> "List[int]":
    """IDs of the live subvolumes made as snapshots of another (their root item names a parent
    UUID): their files share extents, which a file-by-file copy would write again."""
    sb = parse_btrfs_superblock(read_exact(disk, offset + SUPER_AT, 4096, "btrfs superblock"))
    found: List[int] = []
    for obj, _kind, _k, data in _root_items(disk, offset, sb, _chunk_tree(disk, offset, sb)):
        if not _FIRST_SUBVOL <= obj <= _LAST_SUBVOL or len(data) < _PARENT_UUID_AT + 16:
            continue
        (refs,) = struct.unpack_from("<I", data, 216)
        if refs and any(data[_PARENT_UUID_AT : _PARENT_UUID_AT + 16]):
            found.append(obj)
    return sorted(set(found))


def _root_items(disk: DiskReader, offset: int, sb: BtrfsSuperblock,
                chunks: "List[Chunk]") -> "List[Item]":
    """The root tree's root items (one per tree: extent tree, subvolumes, ...)."""
    return _tree_items(disk, offset, sb, chunks, (sb.root, sb.root_level), {_ROOT_ITEM})


def _used_logical(disk: DiskReader, offset: int, sb: BtrfsSuperblock,
                  chunks: "List[Chunk]") -> "List[Span]":
    """Logical ranges the extent tree records as allocated (data extents and tree blocks)."""
    roots = _root_items(disk, offset, sb, chunks)
    found = [d for obj, kind, _k, d in roots if obj == _EXTENT_TREE and kind == _ROOT_ITEM]
    if len(found) != 1 or len(found[0]) < 239:
        raise DiskFormatError("btrfs root tree has no extent tree root")
    (bytenr,) = struct.unpack_from("<Q", found[0], 176)
    spans: List[Span] = []
    extent_root = (bytenr, found[0][238])
    for obj, kind, key_off, _d in _tree_items(disk, offset, sb, chunks, extent_root,
                                              {_EXTENT_ITEM, _METADATA_ITEM}):
        if kind == _EXTENT_ITEM:
            spans.append((obj, obj + key_off))
        elif kind == _METADATA_ITEM:
            spans.append((obj, obj + sb.node_bytes))
    return normalize(spans)
