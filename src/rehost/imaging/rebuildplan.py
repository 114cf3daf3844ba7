"""Where each volume goes on a disk rebuilt file-level to a target size.

The size rules are diskfmt.shrink's (used bytes + a margin per filesystem type). Volumes keep
their order and the first one its start; a volume before the last keeps its size while the
target leaves room for that, else it gets its least size; the last volume (and in a VG the
last LV) takes what remains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rehost.diskfmt.layout import DiskLayout, inspect_disk
from rehost.diskfmt.reader import FileDisk
from rehost.diskfmt.shrink import VolumeFit, disk_fits, file_level_min, file_level_note
from rehost.imaging.errors import ShrinkBelowMinimumError
from rehost.imaging.rebuildfs import RebuildError

MiB = 1 << 20
GPT_TAIL_BYTES = 33 * 512


@dataclass(frozen=True, slots=True)
class NewLv:
    """One LV of the rebuilt VG: its name, filesystem and new size (0: all the free extents)."""

    name: str
    fs: str
    old_size_bytes: int
    new_size_bytes: int


@dataclass(frozen=True, slots=True)
class NewVolume:
    """One volume of the rebuilt disk: where it was, where it goes, how it is recreated."""

    number: int
    fs: str
    old_start_bytes: int
    old_size_bytes: int
    new_start_bytes: int
    new_size_bytes: int
    lvs: tuple[NewLv, ...] = ()
    vg_name: str = ""
    extent_bytes: int = 0

    @property
    def copied_raw(self) -> bool:
        """Same size and not a VG: copied byte for byte instead of recreated."""
        return self.new_size_bytes == self.old_size_bytes and not self.vg_name


@dataclass(frozen=True, slots=True)
class RebuildLayout:
    """The whole rebuilt disk."""

    table: str  # "mbr", "gpt" or "none"
    size_bytes: int
    min_size_bytes: int
    volumes: tuple[NewVolume, ...]


def plan_rebuild(path: Path, *, target_size_bytes: int, disk_name: str = "") -> RebuildLayout:
    """The rebuilt layout of the disk at path; ShrinkBelowMinimumError below its least size."""
    with FileDisk(path) as disk:
        layout = inspect_disk(disk)
        fits = disk_fits(disk, layout)
    why = file_level_note(layout)
    if why or not fits:
        raise RebuildError(f"disk {disk_name or path.name} cannot be rebuilt file-level: "
                           f"{why or 'no volume found'}",
                           f"磁盘 {disk_name or path.name} 无法按文件重建："
                           f"{why or '未找到卷'}")
    least = file_level_min(layout, fits)
    if target_size_bytes < least:
        raise ShrinkBelowMinimumError(target_size_bytes=target_size_bytes, min_size_bytes=least,
                                      disk=disk_name or path.name)
    return RebuildLayout(layout.table.kind, target_size_bytes, least,
                         _place(layout, fits, target_size_bytes))


def _place(layout: DiskLayout, fits: list[VolumeFit], target: int) -> tuple[NewVolume, ...]:
    """Start and size of every volume, in disk order."""
    if layout.table.kind == "none":
        return (_volume(fits[0], 0, target, layout),)
    tail = GPT_TAIL_BYTES if layout.table.kind == "gpt" else 0
    first = min(v.start_bytes for v in layout.volumes)
    keep = _sizes(first, [f.size_bytes for f in fits[:-1]]) + fits[-1].min_bytes + tail
    chosen = [f.size_bytes if keep <= target else f.min_bytes for f in fits[:-1]]
    out: list[NewVolume] = []
    pos = first
    for fit, size in zip(fits[:-1], chosen, strict=True):
        pos = _round_up(pos, MiB)
        out.append(_volume(fit, pos, size, layout))
        pos += size
    pos = _round_up(pos, MiB)
    last_size = (target - tail - pos) // MiB * MiB
    out.append(_volume(fits[-1], pos, last_size, layout))
    return tuple(out)


def _sizes(first: int, sizes: list[int]) -> int:
    """End of the volumes laid out from `first`, each 1 MiB aligned."""
    pos = first
    for size in sizes:
        pos = _round_up(pos, MiB) + size
    return _round_up(pos, MiB)


def _volume(fit: VolumeFit, start: int, size: int, layout: DiskLayout) -> NewVolume:
    old = next(v for v in layout.volumes if v.number == fit.number)
    lvs = _lvs(fit, size) if fit.vg_name else ()
    return NewVolume(fit.number, fit.fs, old.start_bytes, old.size_bytes, start, size, lvs,
                     fit.vg_name, fit.extent_bytes)


def _lvs(fit: VolumeFit, pv_bytes: int) -> tuple[NewLv, ...]:
    """LV sizes in a PV of pv_bytes: earlier LVs keep their size when there is room."""
    extent = fit.extent_bytes
    usable = (pv_bytes - fit.pe_start_bytes) // extent * extent
    *firsts, last = fit.lvs
    keep = sum(_round_up(lv.size_bytes, extent) for lv in firsts) + _round_up(last.min_bytes,
                                                                              extent)
    out = [NewLv(lv.name, lv.fs, lv.size_bytes,
                 _round_up(lv.size_bytes if keep <= usable else lv.min_bytes, extent))
           for lv in firsts]
    if usable - sum(lv.new_size_bytes for lv in out) < last.min_bytes:
        raise RebuildError(f"VG {fit.vg_name}: no room for LV {last.name}",
                           f"卷组 {fit.vg_name}：没有空间容纳逻辑卷 {last.name}")
    return (*out, NewLv(last.name, last.fs, last.size_bytes, 0))


def shrunk_swaps(plan: RebuildLayout) -> list[tuple[str, str]]:
    """Each swap area the plan makes smaller, in English and Chinese: ("partition 1 from 512 to
    64 MiB", "分区 1 从 512 MiB 缩小到 64 MiB")."""
    found = [(f"partition {v.number}", f"分区 {v.number}", v.old_size_bytes, v.new_size_bytes)
             for v in plan.volumes if v.fs == "swap" and not v.vg_name]
    found += [(f"LV {v.vg_name}/{lv.name}", f"逻辑卷 {v.vg_name}/{lv.name}", lv.old_size_bytes,
               lv.new_size_bytes)
              for v in plan.volumes for lv in v.lvs if lv.fs == "swap" and lv.new_size_bytes]
    return [(f"{en} from {old // MiB} to {new // MiB} MiB",
             f"{zh} 从 {old // MiB} MiB 缩小到 {new // MiB} MiB")
            for en, zh, old, new in found if new < old]


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit
