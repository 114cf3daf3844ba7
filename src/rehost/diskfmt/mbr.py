"""MBR (DOS) partition tables, including extended and logical partitions."""

import struct

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.reader import DiskReader
from rehost.diskfmt.table import Partition, PartitionTable

SECTOR = 512
EXTENDED_TYPES = frozenset({0x05, 0x0F, 0x85})
PROTECTIVE_TYPE = 0xEE
MAX_LOGICAL = 128


def _entries(sector: bytes) -> "list[tuple[int, int, int, int]]":
    """(status, type, first LBA, sector count) of the four slots."""
    out = []
    for i in range(4):
        raw = sector[446 + 16 * i : 462 + 16 * i]
        status, ptype = raw[0], raw[4]
        lba, count = struct.unpack_from("<II", raw, 8)
        out.append((status, ptype, lba, count))
    return out


def is_protective(boot: bytes) -> bool:
    """True when the MBR is a GPT protective MBR."""
    return any(t == PROTECTIVE_TYPE for _, t, _, _ in _entries(boot))


def looks_like_mbr(boot: bytes) -> bool:
    """True when the four slots are valid (status 0x00/0x80), even if all empty."""
    return all(status in (0, 0x80) for status, _, _, _ in _entries(boot))


def read_mbr(disk: DiskReader, boot: bytes) -> PartitionTable:
    """Parse primary slots and walk the extended partition's EBR chain."""
    if not looks_like_mbr(boot):
        return PartitionTable(kind="none")
    parts: list[Partition] = []
    for number, (_, ptype, lba, count) in enumerate(_entries(boot), start=1):
        if ptype == 0 or count == 0:
            continue
        is_ext = ptype in EXTENDED_TYPES
        parts.append(_partition(number, lba, count, ptype, is_container=is_ext))
        if is_ext:
            parts.extend(_logical(disk, lba))
    disk_id = f"0x{struct.unpack_from('<I', boot, 440)[0]:08x}"
    return PartitionTable(kind="mbr", partitions=tuple(parts), disk_id=disk_id)


def _partition(
    number: int, lba: int, count: int, ptype: int, *, is_container: bool = False,
    is_logical: bool = False,
) -> Partition:
    """Build a Partition from sector units."""
    return Partition(
        number=number, start_bytes=lba * SECTOR, size_bytes=count * SECTOR,
        type_code=f"{ptype:02x}", is_container=is_container, is_logical=is_logical,
    )


def _logical(disk: DiskReader, ext_lba: int) -> "list[Partition]":
    """Follow the EBR chain: slot 1 is relative to the EBR, slot 2 to the extended start."""
    out: list[Partition] = []
    ebr_lba = ext_lba
    seen: set[int] = set()
    while len(out) < MAX_LOGICAL and ebr_lba not in seen:
        seen.add(ebr_lba)
        ebr = disk.read_at(ebr_lba * SECTOR, SECTOR)
        if len(ebr) < SECTOR or ebr[510:512] != b"\x55\xaa":
            if not out and ebr_lba == ext_lba:
                return out  # an empty extended partition
            raise DiskFormatError(f"broken EBR chain at sector {ebr_lba}")
        slots = _entries(ebr)
        _, ptype, lba, count = slots[0]
        if ptype != 0 and count != 0:
            out.append(_partition(5 + len(out), ebr_lba + lba, count, ptype, is_logical=True))
        _, next_type, next_lba, _ = slots[1]
        if next_type not in EXTENDED_TYPES or next_lba == 0:
            break
        ebr_lba = ext_lba + next_lba
    return out
