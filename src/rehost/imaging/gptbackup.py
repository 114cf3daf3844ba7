"""Moves a GPT's backup header and entries to the new end of a disk image (diskfmt.gpt parses)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import BinaryIO

from rehost.imaging.errors import ImagingError

SECTOR = 512
SIGNATURE = b"EFI PART"


def relocate_backup(path: Path) -> None:
    """Rewrite the primary header for the file's size and write the backup at the last sector."""
    with path.open("r+b") as disk:
        size = disk.seek(0, 2)
        disk.seek(SECTOR)
        header = bytearray(disk.read(SECTOR))
        if header[:8] != SIGNATURE:
            raise ImagingError("no GPT header found at LBA 1", "LBA 1 处未找到 GPT 头")
        header_size, = struct.unpack_from("<I", header, 12)
        old_backup, = struct.unpack_from("<Q", header, 32)
        entries_lba, count, entry_size = struct.unpack_from("<QII", header, 72)
        array_bytes = count * entry_size
        disk.seek(entries_lba * SECTOR)
        entries = disk.read(array_bytes)
        last = size // SECTOR - 1
        backup_entries_lba = last - -(-array_bytes // SECTOR)
        _check_fits(entries, entry_size, backup_entries_lba - 1)
        struct.pack_into("<Q", header, 32, last)  # AlternateLBA
        struct.pack_into("<Q", header, 48, backup_entries_lba - 1)  # LastUsableLBA
        _write_header(disk, header, header_size, lba=1)
        backup = bytearray(header)
        struct.pack_into("<QQ", backup, 24, last, 1)
        struct.pack_into("<Q", backup, 72, backup_entries_lba)
        if 1 < old_backup < last:
            disk.seek(old_backup * SECTOR)
            disk.write(bytes(SECTOR))
        disk.seek(backup_entries_lba * SECTOR)
        disk.write(entries)
        _write_header(disk, backup, header_size, lba=last)
        _fix_protective_mbr(disk, total_sectors=last + 1)


def _check_fits(entries: bytes, entry_size: int, last_usable: int) -> None:
    """Refuse when a partition would end past the new last usable LBA."""
    for pos in range(0, len(entries), entry_size):
        entry = entries[pos:pos + entry_size]
        if entry[:16] == bytes(16):
            continue
        end_lba, = struct.unpack_from("<Q", entry, 40)
        if end_lba > last_usable:
            raise ImagingError(
                f"a GPT partition ends at LBA {end_lba}, past the new end of the disk",
                f"GPT 分区结束于 LBA {end_lba}，超出了磁盘新的末尾",
            )


def _write_header(disk: BinaryIO, header: bytearray, header_size: int, *, lba: int) -> None:
    """Recompute the header CRC32 and write the header sector at lba."""
    struct.pack_into("<I", header, 16, 0)
    struct.pack_into("<I", header, 16, zlib.crc32(bytes(header[:header_size])))
    disk.seek(lba * SECTOR)
    disk.write(bytes(header[:header_size]).ljust(SECTOR, b"\0"))


def _fix_protective_mbr(disk: BinaryIO, *, total_sectors: int) -> None:
    """Set the size of the 0xEE protective partition to cover the disk."""
    disk.seek(0)
    mbr = bytearray(disk.read(SECTOR))
    for slot in range(4):
        base = 446 + 16 * slot
        if mbr[base + 4] == 0xEE:
            struct.pack_into("<I", mbr, base + 12, min(total_sectors - 1, 0xFFFFFFFF))
            disk.seek(0)
            disk.write(bytes(mbr))
            return
