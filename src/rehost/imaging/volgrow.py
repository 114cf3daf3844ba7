"""Growing what lives in a grown last partition: an LVM PV and its last LV, XFS, btrfs.

`rehost.imaging.resize` moves the partition's end; XFS and btrfs only grow mounted
(`xfs_growfs`, `btrfs filesystem resize`) and an LV needs device-mapper, which rehost never
uses on the transit host: libguestfs' appliance (a QEMU VM) does it, the image as its disk.

The LVM rule (docs/imaging.md): the PV is grown to the partition's new end, then the LV that
ends last on the PV grows into the new extents when it is linear and holds ext2/3/4, XFS or
btrfs. Otherwise (a swap LV, an unknown filesystem, a striped or thin LV last) the new
extents stay free in the VG and the job log says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.lvm import VolumeGroup, read_pv_label, read_volume_group
from rehost.diskfmt.reader import FileDisk
from rehost.imaging.guestfish import GuestfishShell, open_disks
from rehost.imaging.layout import ImagePartition

GROWN_INSIDE = frozenset({"LVM2_member", "xfs", "btrfs"})
GROWABLE_FS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs"})


@dataclass(frozen=True, slots=True)
class VolumeGrowth:
    """What grew inside the partition: the volume (device or VG/LV), its filesystem, a note."""

    volume: str
    fs: str
    note: str = ""
    note_zh: str = ""


def grow_inside(path: Path, part: ImagePartition) -> VolumeGrowth:
    """Grow the PV (and its last LV) or the XFS/btrfs of a partition that was just grown."""
    device = f"/dev/sda{part.number}"  # the image is the appliance's only disk
    if part.fs == "LVM2_member":
        try:
            vg, last = last_lv(path, part.start_bytes)
        except DiskFormatError as exc:
            return VolumeGrowth(device, part.fs, f"PV not grown: {exc}",
                                f"物理卷未扩容：{exc}")
        with open_disks([path]) as shell:
            shell.run("pvresize", device)
            return _grow_lv(shell, vg, last)
    with open_disks([path]) as shell:
        grow_fs(shell, device, part.fs)
    return VolumeGrowth(device, part.fs)


def last_lv(path: Path, pv_offset: int) -> tuple[str, str]:
    """(VG name, the linear LV ending last on the PV at `pv_offset`, or "" when there is none)."""
    with FileDisk(path) as disk:
        label = read_pv_label(disk, pv_offset)
        vg = read_volume_group(disk, pv_offset, label)
    pv_name = next((p.name for p in vg.pvs.values() if p.uuid == label.uuid), "")
    return vg.name, _ending_last(vg, pv_name)


def _ending_last(vg: VolumeGroup, pv_name: str) -> str:
    """The LV whose last segment ends last on the PV, when that segment is linear."""
    best, best_end = "", -1
    for lv in vg.lvs:
        for seg in lv.segments:
            for name, first_pe in seg.stripes:
                end = first_pe + seg.extent_count // max(1, len(seg.stripes))
                if name == pv_name and end > best_end:
                    linear = seg.kind == "striped" and len(seg.stripes) == 1
                    best, best_end = (lv.name if linear and lv.visible else ""), end
    return best


def _grow_lv(shell: GuestfishShell, vg: str, lv: str) -> VolumeGrowth:
    """Grow the LV into the VG's free extents and its filesystem, when both can grow."""
    if not lv:
        return VolumeGrowth(vg, "", f"PV grown; the new extents stay free in VG {vg} (the LV "
                            "ending last on the PV is not a linear LV)",
                            f"物理卷已扩容；新增的区段留在卷组 {vg} 中未分配（物理卷上最后的逻辑卷"
                            "不是线性逻辑卷）")
    device = f"/dev/{vg}/{lv}"
    fs = shell.run("vfs-type", device, ok=True).strip()
    if fs not in GROWABLE_FS:
        return VolumeGrowth(f"{vg}/{lv}", fs, f"PV grown; the new extents stay free in VG {vg} "
                            f"(its last LV {lv} holds {fs or 'no known filesystem'})",
                            f"物理卷已扩容；新增的区段留在卷组 {vg} 中未分配（其最后的逻辑卷 {lv} "
                            f"上是{fs or '无法识别的文件系统'}）")
    shell.run("lvresize-free", device, "100")
    grow_fs(shell, device, fs)
    return VolumeGrowth(f"{vg}/{lv}", fs, f"PV, LV {vg}/{lv} and its {fs} grown",
                        f"物理卷、逻辑卷 {vg}/{lv} 及其 {fs} 均已扩容")


def grow_fs(shell: GuestfishShell, device: str, fs: str) -> None:
    """Grow the filesystem on an appliance device to fill it (ext offline, XFS/btrfs mounted)."""
    if fs in ("ext2", "ext3", "ext4"):
        shell.run("e2fsck", device, "correct:true")
        shell.run("resize2fs", device)
        return
    shell.run("mount", device, "/")
    if fs == "xfs":
        shell.run("xfs-growfs", "/", "datasec:true")
    else:
        shell.run("btrfs-filesystem-resize", "/")
    shell.run("umount", "/")

