"""Recognise filesystems and volume formats by their magic numbers."""

import uuid
from typing import NamedTuple

from rehost.diskfmt.ext import probe_ext
from rehost.diskfmt.reader import DiskReader


class FsProbe(NamedTuple):
    """What was found at the start of a volume; `name` uses lsblk's names, "" if unknown."""

    name: str
    uuid: str = ""
    label: str = ""


def _text(raw: bytes) -> str:
    """Decode a NUL/space padded label."""
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace").strip()


def _xfs(head: bytes) -> "FsProbe | None":
    if head[:4] != b"XFSB":
        return None
    return FsProbe("xfs", str(uuid.UUID(bytes=head[32:48])), _text(head[108:120]))


def _ntfs(head: bytes) -> "FsProbe | None":
    if head[3:11] != b"NTFS    ":
        return None
    return FsProbe("ntfs", head[72:80][::-1].hex().upper())


def _vfat(head: bytes) -> "FsProbe | None":
    if head[510:512] != b"\x55\xaa" or head[0] not in (0xEB, 0xE9):
        return None
    if head[82:87] == b"FAT32":
        serial, label = head[67:71], head[71:82]
    elif head[54:57] == b"FAT":
        serial, label = head[39:43], head[43:54]
    else:
        return None
    sid = serial[::-1].hex().upper()
    name = _text(label)
    return FsProbe("vfat", f"{sid[:4]}-{sid[4:]}", "" if name == "NO NAME" else name)


def _swap(head: bytes) -> "FsProbe | None":
    if head[4086:4096] not in (b"SWAPSPACE2", b"SWAP-SPACE"):
        return None
    return FsProbe("swap", str(uuid.UUID(bytes=head[1036:1052])), _text(head[1052:1068]))


def _lvm(head: bytes) -> "FsProbe | None":
    for sector in range(4):
        label = head[sector * 512 : sector * 512 + 32]
        if label[:8] == b"LABELONE" and label[24:32] == b"LVM2 001":
            pv = head[sector * 512 + 32 : sector * 512 + 64].decode("ascii", "replace")
            return FsProbe("LVM2_member", pv)
    return None


def _btrfs(disk: DiskReader, offset: int) -> "FsProbe | None":
    sb = disk.read_at(offset + 0x10000, 0x200)
    if sb[0x40:0x48] != b"_BHRfS_M":
        return None
    return FsProbe("btrfs", str(uuid.UUID(bytes=sb[0x20:0x30])), _text(sb[0x12B:0x1FF]))


def sniff_fs(disk: DiskReader, offset: int = 0) -> "FsProbe":
    """Identify the filesystem starting at `offset`; FsProbe("") when unknown."""
    sb = probe_ext(disk, offset)
    if sb is not None:
        return FsProbe(sb.fs_name, sb.uuid, sb.label)
    head = disk.read_at(offset, 4096)
    if len(head) < 4096:
        return FsProbe("")
    for probe in (_xfs, _ntfs, _vfat, _swap, _lvm):
        found = probe(head)
        if found is not None:
            return found
    return _btrfs(disk, offset) or FsProbe("")
