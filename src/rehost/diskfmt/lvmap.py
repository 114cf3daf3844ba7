"""Where a disk's LVM logical volumes lie, and which PV extents are unallocated."""

from typing import Callable, Dict, List, NamedTuple, Tuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.extent import normalize, subtract
from rehost.diskfmt.lvm import (
    SECTOR,
    LogicalVolume,
    PvInfo,
    VolumeGroup,
    read_pv_label,
    read_volume_group,
)
from rehost.diskfmt.reader import DiskReader

Span = Tuple[int, int]
# (lv offset, disk offset, length) in bytes
Piece = Tuple[int, int, int]
# free spans of the filesystem on a reader, relative to it; notes get reasons appended
FsFree = Callable[[DiskReader, str, List[str]], List[Span]]


class PvOnDisk(NamedTuple):
    """A physical volume found in a partition of this disk."""

    label: str  # how the job log names the partition
    start_bytes: int
    size_bytes: int
    metadata_areas: "Tuple[Tuple[int, int], ...]" = ()  # from the PV label, bytes from the PV start


def _pv_area(info: PvInfo, pv: PvOnDisk) -> "Tuple[List[Span], List[Span]]":
    """(spans LVM may use for extents or slack, metadata areas) of one PV, on the disk."""
    pe0 = pv.start_bytes + info.pe_start_sectors * SECTOR
    mdas = [(pv.start_bytes + at, pv.start_bytes + at + size) for at, size in pv.metadata_areas]
    # after the last extent only metadata areas count (a second copy may sit at the end)
    return [(pe0, pv.start_bytes + pv.size_bytes)], mdas


class LogicalDisk:
    """A logical volume read through its segments' pieces of the disk, addressed from 0."""

    def __init__(self, base: DiskReader, pieces: "List[Piece]") -> None:
        self.base = base
        self.pieces = sorted(pieces)
        self._size = sum(p[2] for p in pieces)

    @property
    def size_bytes(self) -> int:
        """Size of the logical volume."""
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        """Read across pieces; short only at the end of the volume."""
        parts: List[bytes] = []
        for lv_at, disk_at, size in self.pieces:
            lo, hi = max(offset, lv_at), min(offset + length, lv_at + size)
            if lo < hi:
                parts.append(self.base.read_at(disk_at + lo - lv_at, hi - lo))
        return b"".join(parts)

    def to_disk(self, spans: "List[Span]") -> "List[Span]":
        """Map spans in LV coordinates onto the disk."""
        out: List[Tuple[int, int]] = []
        for start, end in spans:
            for lv_at, disk_at, size in self.pieces:
                lo, hi = max(start, lv_at), min(end, lv_at + size)
                if lo < hi:
                    out.append((disk_at + lo - lv_at, disk_at + hi - lv_at))
        return out


def _pe_bytes(vg: VolumeGroup, pv_name: str, pvs: "Dict[str, PvOnDisk]") -> "Tuple[int, int]":
    """(disk offset of PE 0, PE count) of a PV of `vg` on this disk; KeyError if elsewhere."""
    info = vg.pvs[pv_name]
    return pvs[info.uuid].start_bytes + info.pe_start_sectors * SECTOR, info.pe_count


def _pieces(vg: VolumeGroup, lv: LogicalVolume, pvs: "Dict[str, PvOnDisk]") -> "List[Piece]":
    """Disk pieces of every stripe of every segment of `lv` that lies on this disk."""
    out: List[Piece] = []
    for seg in lv.segments:
        per_stripe = seg.extent_count // max(1, len(seg.stripes)) * vg.extent_bytes
        for pv_name, first_pe in seg.stripes:
            try:
                pe0, pe_count = _pe_bytes(vg, pv_name, pvs)
            except KeyError:
                continue
            if first_pe * vg.extent_bytes + per_stripe > pe_count * vg.extent_bytes:
                raise DiskFormatError(f"LV {lv.name} extends beyond PV {pv_name}")
            out.append((seg.start_extent * vg.extent_bytes, pe0 + first_pe * vg.extent_bytes,
                        per_stripe))
    return out


def _why_whole(vg: VolumeGroup, lv: LogicalVolume, pvs: "Dict[str, PvOnDisk]") -> str:
    """Why an LV's filesystem is not planned ("" when it can be), in words for the job log."""
    if not lv.visible:
        return "internal LV (thin pool data/metadata, snapshot store, mirror or RAID leg)"
    kinds = {s.kind for s in lv.segments}
    if kinds != {"striped"}:
        return f"segment type {', '.join(sorted(kinds))} is not read by rehost"
    if any(len(s.stripes) != 1 for s in lv.segments):
        return "striped over several PVs"
    if any(vg.pvs.get(p) is None or vg.pvs[p].uuid not in pvs
           for s in lv.segments for p, _ in s.stripes):
        return "has extents on a PV of another disk"
    return ""


def _vg_free(vg: VolumeGroup, pvs: "Dict[str, PvOnDisk]", fs_free: FsFree, base: DiskReader,
             notes: "List[str]") -> "List[Span]":
    """Unallocated PE ranges of this VG's PVs on this disk, plus free space inside its LVs."""
    pe_areas: List[Span] = []
    allocated: List[Span] = []
    for info in vg.pvs.values():
        if info.uuid in pvs:
            area, mdas = _pv_area(info, pvs[info.uuid])
            pe_areas.extend(area)
            allocated.extend(mdas)
    inside: List[Span] = []
    for lv in vg.lvs:
        pieces = _pieces(vg, lv, pvs)
        allocated.extend((d, d + n) for _, d, n in pieces)
        name = f"LV {vg.name}/{lv.name}"
        why = _why_whole(vg, lv, pvs)
        if why:
            notes.append(f"{name}: {why}; its extents copied whole")
            continue
        logical = LogicalDisk(base, pieces)
        inside.extend(logical.to_disk(fs_free(logical, name, notes)))
    return subtract(normalize(pe_areas), normalize(allocated)) + inside


def _read_pvs(disk: DiskReader, found: "List[PvOnDisk]", notes: "List[str]"
              ) -> "Tuple[Dict[str, PvOnDisk], Dict[str, VolumeGroup]]":
    """PVs whose label and metadata read, by uuid; the newest metadata of each VG, by name."""
    pvs: Dict[str, PvOnDisk] = {}
    vgs: Dict[str, VolumeGroup] = {}
    for pv in found:
        try:
            label = read_pv_label(disk, pv.start_bytes)
            vg = read_volume_group(disk, pv.start_bytes, label)
        except DiskFormatError as exc:
            notes.append(f"{pv.label}: {exc}; copied whole")
            continue
        if label.device_size_bytes > pv.size_bytes:
            notes.append(f"{pv.label}: PV larger than its partition; copied whole")
            continue
        pvs[label.uuid] = pv._replace(metadata_areas=tuple(label.metadata_areas))
        if vg.name not in vgs or vg.seqno > vgs[vg.name].seqno:
            vgs[vg.name] = vg
    return pvs, vgs


def lvm_free_spans(disk: DiskReader, found: "List[PvOnDisk]", *, fs_free: FsFree,
                   notes: "List[str]") -> "List[Span]":
    """Disk spans inside these PVs that need not be sent: unallocated extents, free LV space."""
    pvs, vgs = _read_pvs(disk, found, notes)
    free: List[Span] = []
    for vg in vgs.values():
        try:
            free.extend(_vg_free(vg, pvs, fs_free, disk, notes))
        except DiskFormatError as exc:
            notes.append(f"VG {vg.name}: {exc}; its PVs copied whole")
    return free


class LvOnDisk(NamedTuple):
    """One logical volume of a PV on this disk, readable from 0 (None when it is not plain)."""

    vg: VolumeGroup
    lv: LogicalVolume
    reader: "LogicalDisk | None"  # None: thin, snapshot, striped or on another PV too
    why_not: str


def logical_volumes(disk: DiskReader, pv: PvOnDisk) -> "List[LvOnDisk]":
    """Every LV of the VG on this PV, in PE order; DiskFormatError when the PV is unreadable."""
    notes: List[str] = []
    pvs, vgs = _read_pvs(disk, [pv], notes)
    if not vgs:
        raise DiskFormatError("; ".join(notes) or f"{pv.label}: no volume group")
    out: List[LvOnDisk] = []
    for vg in vgs.values():
        for lv in vg.lvs:
            why = _why_whole(vg, lv, pvs)
            out.append(LvOnDisk(vg, lv, None if why else LogicalDisk(disk, _pieces(vg, lv, pvs)),
                                why))
    return sorted(out, key=lambda x: min((d for _, d, _n in x.reader.pieces), default=0)
                  if x.reader else 0)
