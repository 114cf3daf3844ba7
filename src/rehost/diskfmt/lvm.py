"""LVM2 physical volumes: the PV label, its metadata areas and the volume group they describe."""

import struct
import zlib
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.lvmtext import parse_metadata, vg_section
from rehost.diskfmt.reader import DiskReader, read_exact

SECTOR = 512
_MDA_MAGIC = b"\x20LVM2 x[5A%r0N*>"
_CRC_INITIAL = 0xF597A6CF
_MAX_TEXT_BYTES = 16 << 20


class PvLabel(NamedTuple):
    """What a PV label says: the PV's id and where its metadata areas are (bytes from PV start)."""

    uuid: str
    device_size_bytes: int
    metadata_areas: "List[Tuple[int, int]]"


class Segment(NamedTuple):
    """One segment of a logical volume: LV extents mapped onto (pv name, first PE) stripes."""

    start_extent: int
    extent_count: int
    kind: str
    stripes: "List[Tuple[str, int]]"
    stripe_size_sectors: int


class LogicalVolume(NamedTuple):
    """A logical volume and its segments in LV order."""

    name: str
    visible: bool
    segments: "List[Segment]"


class PvInfo(NamedTuple):
    """A physical volume as the VG metadata records it."""

    name: str
    uuid: str
    pe_start_sectors: int
    pe_count: int


class VolumeGroup(NamedTuple):
    """A volume group's extent size, PVs and LVs, from its newest metadata."""

    name: str
    seqno: int
    extent_bytes: int
    pvs: "Dict[str, PvInfo]"
    lvs: "List[LogicalVolume]"


def lvm_crc(data: bytes, initial: int = _CRC_INITIAL) -> int:
    """LVM's CRC-32 variant: zlib's polynomial, no final inversion."""
    return zlib.crc32(data, initial ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def plain_uuid(text: str) -> str:
    """A PV/VG id without its dashes, as the label stores it."""
    return text.replace("-", "")


def read_pv_label(disk: DiskReader, offset: int) -> PvLabel:
    """Find and decode the PV label in the first four sectors of the PV at `offset`."""
    head = read_exact(disk, offset, 4 * SECTOR, "LVM PV label")
    for sector in range(4):
        raw = head[sector * SECTOR : (sector + 1) * SECTOR]
        if raw[:8] == b"LABELONE" and raw[24:32] == b"LVM2 001":
            return _decode_label(raw)
    raise DiskFormatError("LVM PV label not found in the first 4 sectors")


def _decode_label(raw: bytes) -> PvLabel:
    crc, header_at = struct.unpack_from("<II", raw, 16)
    if lvm_crc(raw[20:SECTOR]) != crc:
        raise DiskFormatError("LVM PV label checksum mismatch")
    if not 32 <= header_at <= SECTOR - 48:
        raise DiskFormatError("LVM PV label points outside its sector")
    uuid = raw[header_at : header_at + 32].decode("ascii", "replace")
    (dev_size,) = struct.unpack_from("<Q", raw, header_at + 32)
    pos = header_at + 40
    lists: List[List[Tuple[int, int]]] = []
    for _ in range(2):  # data areas, then metadata areas; each ends with a zero entry
        areas: List[Tuple[int, int]] = []
        while pos + 16 <= SECTOR:
            at, size = struct.unpack_from("<QQ", raw, pos)
            pos += 16
            if at == 0:
                break
            areas.append((at, size))
        lists.append(areas)
    return PvLabel(uuid=uuid, device_size_bytes=dev_size, metadata_areas=lists[1])


def _mda_text(disk: DiskReader, offset: int, area: "Tuple[int, int]") -> str:
    """The current metadata text of one metadata area (a circular buffer after its header)."""
    at, size = area
    hdr = read_exact(disk, offset + at, SECTOR, "LVM metadata area header")
    if hdr[4:20] != _MDA_MAGIC:
        raise DiskFormatError(f"LVM metadata area at byte {at} has a bad magic")
    if lvm_crc(hdr[4:]) != struct.unpack_from("<I", hdr, 0)[0]:
        raise DiskFormatError(f"LVM metadata area at byte {at}: header checksum mismatch")
    (_version, _start, mda_size) = struct.unpack_from("<IQQ", hdr, 20)
    loc_at, loc_size, loc_crc, _flags = struct.unpack_from("<QQII", hdr, 40)
    if loc_at == 0 or not 0 < loc_size <= min(_MAX_TEXT_BYTES, mda_size, size):
        raise DiskFormatError(f"LVM metadata area at byte {at} holds no metadata")
    first = min(loc_size, mda_size - loc_at) if loc_at < mda_size else 0
    text = read_exact(disk, offset + at + loc_at, first, "LVM metadata text") if first else b""
    if first < loc_size:  # wrapped around to just after the header
        text += read_exact(disk, offset + at + SECTOR, loc_size - first, "LVM metadata text")
    if lvm_crc(text) != loc_crc:
        raise DiskFormatError(f"LVM metadata area at byte {at}: text checksum mismatch")
    return text.rstrip(b"\0").decode("utf-8", "replace")


def read_volume_group(disk: DiskReader, offset: int, label: PvLabel) -> VolumeGroup:
    """Parse the newest readable metadata copy of the PV at `offset`."""
    best: Optional[VolumeGroup] = None
    errors: List[str] = []
    for area in label.metadata_areas:
        try:
            vg = _volume_group(parse_metadata(_mda_text(disk, offset, area)))
        except DiskFormatError as exc:
            errors.append(str(exc))
            continue
        if best is None or vg.seqno > best.seqno:
            best = vg
    if best is None:
        why = "; ".join(errors) or "the PV has no metadata area"
        raise DiskFormatError(f"no readable LVM metadata ({why})")
    return best


def _int(section: "Dict[str, Any]", key: str) -> int:
    value = section.get(key)
    if not isinstance(value, int) or value < 0:
        raise DiskFormatError(f"LVM metadata: {key} missing or not a number")
    return value


def _volume_group(config: "Dict[str, Any]") -> VolumeGroup:
    name, vg = vg_section(config)
    extent_sectors = _int(vg, "extent_size")
    if extent_sectors == 0:
        raise DiskFormatError("LVM metadata: extent_size is 0")
    pvs = {
        key: PvInfo(name=key, uuid=plain_uuid(str(pv.get("id", ""))),
                    pe_start_sectors=_int(pv, "pe_start"), pe_count=_int(pv, "pe_count"))
        for key, pv in _sections(vg, "physical_volumes")
    }
    lvs = [_logical_volume(key, lv) for key, lv in _sections(vg, "logical_volumes")]
    return VolumeGroup(name=name, seqno=_int(vg, "seqno"), extent_bytes=extent_sectors * SECTOR,
                       pvs=pvs, lvs=lvs)


def _sections(parent: "Dict[str, Any]", key: str) -> "List[Tuple[str, Dict[str, Any]]]":
    child = parent.get(key, {})
    if not isinstance(child, dict):
        raise DiskFormatError(f"LVM metadata: {key} is not a section")
    return [(k, v) for k, v in child.items() if isinstance(v, dict)]


def _logical_volume(name: str, lv: "Dict[str, Any]") -> LogicalVolume:
    segments: List[Segment] = []
    for key, seg in sorted(((k, v) for k, v in lv.items() if isinstance(v, dict)),
                           key=lambda kv: _int(kv[1], "start_extent")):
        if key.startswith("segment"):
            segments.append(_segment(seg))
    status = lv.get("status", [])
    return LogicalVolume(name=name, visible=isinstance(status, list) and "VISIBLE" in status,
                         segments=segments)


def _segment(seg: "Dict[str, Any]") -> Segment:
    kind = str(seg.get("type", ""))
    flat = seg.get("stripes", seg.get("raids", []))
    stripes: List[Tuple[str, int]] = []
    if isinstance(flat, list):
        for i in range(0, len(flat) - 1, 2):
            if isinstance(flat[i], str) and isinstance(flat[i + 1], int):
                stripes.append((flat[i], flat[i + 1]))
    return Segment(start_extent=_int(seg, "start_extent"), extent_count=_int(seg, "extent_count"),
                   kind=kind, stripes=stripes,
                   stripe_size_sectors=int(seg.get("stripe_size", 0) or 0))
