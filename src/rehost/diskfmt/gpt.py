"""GUID partition tables: header and entry CRCs, with fallback to the backup header."""

import struct
import uuid
import zlib
from typing import NamedTuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.reader import DiskReader
from rehost.diskfmt.table import Partition, PartitionTable

SIGNATURE = b"EFI PART"
HEADER_FMT = "<8sIIIIQQQQ16sQIII"  # up to the entries CRC: 92 bytes
MAX_ENTRIES_BYTES = 1 << 20


class GptHeader(NamedTuple):
    """The fields of a GPT header rehost uses."""

    current_lba: int
    backup_lba: int
    first_usable_lba: int
    last_usable_lba: int
    disk_guid: str
    entries_lba: int
    entry_count: int
    entry_bytes: int
    entries_crc: int


def parse_header(raw: bytes) -> "GptHeader":
    """Parse and CRC-check a header sector; raises DiskFormatError when invalid."""
    if raw[:8] != SIGNATURE:
        raise DiskFormatError("GPT header signature missing")
    (_, _, size, crc, _, cur, backup, first, last, guid, ent_lba, count, ent_size,
     ent_crc) = struct.unpack_from(HEADER_FMT, raw)
    if not 92 <= size <= len(raw):
        raise DiskFormatError(f"GPT header size {size} invalid")
    check = raw[:16] + b"\0\0\0\0" + raw[20:size]
    if zlib.crc32(check) != crc:
        raise DiskFormatError("GPT header CRC mismatch")
    if ent_size < 128 or ent_size % 8 or count * ent_size > MAX_ENTRIES_BYTES:
        raise DiskFormatError(f"GPT entry layout invalid ({count} x {ent_size})")
    return GptHeader(
        current_lba=cur, backup_lba=backup, first_usable_lba=first, last_usable_lba=last,
        disk_guid=str(uuid.UUID(bytes_le=guid)).upper(), entries_lba=ent_lba,
        entry_count=count, entry_bytes=ent_size, entries_crc=ent_crc,
    )


def _read_entries(disk: DiskReader, hdr: "GptHeader", sector: int) -> bytes:
    """Read the entry array and check its CRC."""
    raw = disk.read_at(hdr.entries_lba * sector, hdr.entry_count * hdr.entry_bytes)
    if len(raw) != hdr.entry_count * hdr.entry_bytes or zlib.crc32(raw) != hdr.entries_crc:
        raise DiskFormatError("GPT partition entries CRC mismatch")
    return raw


def _parse_entries(raw: bytes, hdr: "GptHeader", sector: int) -> "tuple[Partition, ...]":
    """Turn non-empty entries into partitions, numbered by their slot."""
    parts = []
    for i in range(hdr.entry_count):
        ent = raw[i * hdr.entry_bytes : (i + 1) * hdr.entry_bytes]
        if ent[:16] == b"\0" * 16:
            continue
        first, last = struct.unpack_from("<QQ", ent, 32)
        if last < first:
            raise DiskFormatError(f"GPT entry {i + 1} ends before it starts")
        name = ent[56:128].decode("utf-16-le", errors="replace").split("\0", 1)[0]
        parts.append(Partition(
            number=i + 1, start_bytes=first * sector, size_bytes=(last - first + 1) * sector,
            type_code=str(uuid.UUID(bytes_le=ent[:16])).upper(),
            uuid=str(uuid.UUID(bytes_le=ent[16:32])).upper(), name=name,
        ))
    return tuple(sorted(parts, key=lambda p: p.start_bytes))


def _try(disk: DiskReader, lba: int, sector: int) -> "tuple[GptHeader, bytes]":
    """Read and validate the header at `lba` and its entries."""
    hdr = parse_header(disk.read_at(lba * sector, sector))
    if hdr.current_lba != lba:
        raise DiskFormatError(f"GPT header at LBA {lba} claims LBA {hdr.current_lba}")
    return hdr, _read_entries(disk, hdr, sector)


def read_gpt(disk: DiskReader) -> PartitionTable:
    """Parse the primary GPT, falling back to the backup one (noted) when it is damaged."""
    errors: list[str] = []
    for sector in (512, 4096):
        last_lba = disk.size_bytes // sector - 1
        for lba, label in ((1, "primary"), (last_lba, "backup")):
            try:
                hdr, raw = _try(disk, lba, sector)
            except DiskFormatError as exc:
                errors.append(f"{label}@{sector}: {exc}")
                continue
            notes = tuple(errors) if label == "backup" else ()
            return PartitionTable(
                kind="gpt", partitions=_parse_entries(raw, hdr, sector),
                disk_id=hdr.disk_guid, sector_bytes=sector, notes=notes,
            )
        if disk.read_at(sector, 8) == SIGNATURE:
            break
    raise DiskFormatError("no valid GPT header: " + "; ".join(errors))
