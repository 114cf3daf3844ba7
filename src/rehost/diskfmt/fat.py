"""FAT12/16/32 (EFI system partitions): free clusters from the first allocation table."""

import re
import struct
from typing import List, NamedTuple, Tuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.reader import DiskReader, read_exact

Span = Tuple[int, int]


class FatGeometry(NamedTuple):
    """Where the FAT and the data area are, in bytes from the volume start."""

    bits: int
    cluster_bytes: int
    fat_at: int
    data_at: int
    clusters: int


def parse_bpb(raw: bytes) -> FatGeometry:
    """Decode the BIOS parameter block of a FAT boot sector."""
    if raw[510:512] != b"\x55\xaa":
        raise DiskFormatError("FAT boot sector has a bad signature")
    sector, per_cluster, reserved, fats, root_entries, total16 = struct.unpack_from(
        "<HBHBHH", raw, 11)
    (fat16,) = struct.unpack_from("<H", raw, 22)
    total32, fat32 = struct.unpack_from("<II", raw, 32)
    if sector not in (512, 1024, 2048, 4096) or per_cluster not in (1 << k for k in range(8)):
        raise DiskFormatError("FAT boot sector: bad sector or cluster size")
    fat_sectors = fat16 or fat32
    total = total16 or total32
    root_sectors = -(-root_entries * 32 // sector)
    data = reserved + fats * fat_sectors + root_sectors
    if reserved == 0 or fats == 0 or fat_sectors == 0 or total <= data:
        raise DiskFormatError("FAT boot sector: inconsistent geometry")
    clusters = (total - data) // per_cluster
    bits = 12 if clusters < 4085 else 16 if clusters < 65525 else 32
    if clusters * bits > fat_sectors * sector * 8:
        raise DiskFormatError("FAT is too small for its clusters")
    return FatGeometry(bits=bits, cluster_bytes=sector * per_cluster, fat_at=reserved * sector,
                       data_at=data * sector, clusters=clusters)


def _entries(table: bytes, bits: int, count: int) -> "List[int]":
    """Entries 2 .. count+1 of a FAT."""
    if bits == 32:
        return [v & 0x0FFFFFFF for v in struct.unpack_from(f"<{count}I", table, 8)]
    if bits == 16:
        return list(struct.unpack_from(f"<{count}H", table, 4))
    out: List[int] = []
    for n in range(2, count + 2):
        (pair,) = struct.unpack_from("<H", table, n * 3 // 2)
        out.append(pair >> 4 if n & 1 else pair & 0xFFF)
    return out


def fat_free_spans(disk: DiskReader, offset: int, size_bytes: int) -> "List[Span]":
    """Byte spans (relative to `offset`) of the clusters the FAT marks free."""
    geo = parse_bpb(read_exact(disk, offset, 512, "FAT boot sector"))
    if geo.data_at + geo.clusters * geo.cluster_bytes > size_bytes:
        raise DiskFormatError("FAT filesystem is larger than its volume (truncated disk?)")
    table = read_exact(disk, offset + geo.fat_at, (geo.clusters + 2) * geo.bits // 8 + 2, "FAT")
    free = "".join("0" if v == 0 else "1" for v in _entries(table, geo.bits, geo.clusters))
    return [(geo.data_at + m.start() * geo.cluster_bytes, geo.data_at + m.end() * geo.cluster_bytes)
            for m in re.finditer("0+", free)]
