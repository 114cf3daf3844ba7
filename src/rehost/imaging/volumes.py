"""The filesystems the checks read: partitions, LVM logical volumes and btrfs subvolumes.

Two views provide them. `HostView` reads ext2/3/4 (debugfs) and FAT (mtools) on plain
partitions without starting anything. Everything else (XFS, btrfs, LVM, and an ext journal
that needs replaying) is read by `rehost.imaging.guestview` inside the libguestfs appliance,
whose kernel has device-mapper, XFS and btrfs. A filesystem neither view can read carries the
reason in `FsVolume.error`, and the checks say "not checked" instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from rehost.imaging import extfs, fat
from rehost.imaging.layout import ImageLayout, ImagePartition

NO_FILES = frozenset({"swap", "", "LVM2_member", "linux_raid_member", "crypto_LUKS"})
FsckOutcome = Literal["clean", "replayed", "errors", "not_checked"]


@dataclass(frozen=True, slots=True)
class FsVolume:
    """One filesystem: where it is, its type, UUID and label, and whether its files can be read."""

    key: str
    disk: int
    partition: int
    fs: str
    uuid: str
    label: str
    lv: str = ""  # "vg/lv" for an LVM logical volume
    subvol: str = ""  # btrfs subvolume path ("@", "@/home"); "" for the top level
    error: str = ""  # why its files cannot be read; "" when they can

    @property
    def where_en(self) -> str:
        """'disk 0 partition 2', 'disk 0 LV vg/root', '… subvolume @'."""
        base = f"disk {self.disk} " + (f"LV {self.lv}" if self.lv else
                                       f"partition {self.partition}")
        return base + (f" subvolume {self.subvol}" if self.subvol else "")

    @property
    def where_zh(self) -> str:
        """The same in Chinese."""
        base = f"磁盘 {self.disk} " + (f"逻辑卷 {self.lv}" if self.lv else
                                     f"分区 {self.partition}")
        return base + (f" 子卷 {self.subvol}" if self.subvol else "")

    @property
    def check_name(self) -> str:
        """The fsck result name: fsck:disk0p2, fsck:disk0:vg/root."""
        return f"fsck:disk{self.disk}:{self.lv}" if self.lv else \
            f"fsck:disk{self.disk}p{self.partition}"

    @property
    def holds_files(self) -> bool:
        """False for swap, LVM PVs and other non-filesystems."""
        return self.fs not in NO_FILES


@dataclass(frozen=True, slots=True)
class FsckVerdict:
    """A filesystem checker's judgement of one volume (after journal replay on a copy)."""

    volume: FsVolume
    outcome: FsckOutcome
    tool: str
    detail: str = ""


class DiskView(Protocol):
    """The filesystems of one machine's disks, their files and their fsck verdicts."""

    @property
    def volumes(self) -> tuple[FsVolume, ...]:
        """Every filesystem found, in disk order."""

    def list_dir(self, volume: FsVolume, path: str) -> list[str] | None:
        """Names in a directory, None when it does not exist."""

    def is_file(self, volume: FsVolume, path: str) -> bool:
        """True when path is a regular file (symlinks followed)."""

    def read_bytes(self, volume: FsVolume, path: str) -> bytes | None:
        """A file's bytes, None when it does not exist."""

    def fsck(self) -> list[FsckVerdict]:
        """One verdict per filesystem that has a checker."""


def read_text(view: DiskView, volume: FsVolume, path: str) -> str | None:
    """A file's text (UTF-8, undecodable bytes replaced), None when absent."""
    data = view.read_bytes(volume, path)
    return None if data is None else data.decode("utf-8", "replace")


class HostView:
    """ext2/3/4 and FAT on plain partitions, read on this host (debugfs, mtools)."""

    def __init__(self, layouts: Sequence[ImageLayout], *, reason: str = "") -> None:
        self._reason = reason
        self._parts: dict[str, tuple[ImageLayout, ImagePartition]] = {}
        found = []
        for index, layout in enumerate(layouts):
            for part in layout.data_partitions:
                key = f"disk{index}p{part.number}"
                self._parts[key] = (layout, part)
                readable = part.is_ext or part.fs == "vfat" or (
                    part.fs in NO_FILES and part.fs != "LVM2_member")
                error = "" if readable else (
                    reason or f"{part.fs} is read through libguestfs, which is not available")
                found.append(FsVolume(key, index, part.number, part.fs, part.uuid, part.label,
                                    error=error))
        self._volumes = tuple(found)

    @property
    def volumes(self) -> tuple[FsVolume, ...]:
        """Every partition's filesystem."""
        return self._volumes

    def _device(self, volume: FsVolume) -> tuple[ImageLayout, ImagePartition]:
        return self._parts[volume.key]

    def list_dir(self, volume: FsVolume, path: str) -> list[str] | None:
        """debugfs ls (ext) or the mtools listing (FAT)."""
        layout, part = self._device(volume)
        if part.is_ext:
            return extfs.list_dir(extfs.spec(layout.path, part.start_bytes), path)
        if part.fs != "vfat":
            return None
        prefix = path.rstrip("/").upper() + "/"
        names = [f[len(prefix):] for f in fat.list_files(layout.path,
                                                          offset_bytes=part.start_bytes)
                 if f.upper().startswith(prefix)]
        return sorted({n.split("/", 1)[0] for n in names if n}) or None

    def is_file(self, volume: FsVolume, path: str) -> bool:
        """Listed in its directory (debugfs and mtools list files, not dangling links)."""
        directory, _, name = path.rpartition("/")
        return name in (self.list_dir(volume, directory or "/") or [])

    def read_bytes(self, volume: FsVolume, path: str) -> bytes | None:
        """debugfs dump (ext) or mcopy (FAT)."""
        layout, part = self._device(volume)
        if part.is_ext:
            return extfs.read_bytes(extfs.spec(layout.path, part.start_bytes), path)
        if part.fs == "vfat":
            return fat.read_bytes(layout.path, offset_bytes=part.start_bytes, name=path)
        return None

    def fsck(self) -> list[FsckVerdict]:
        """e2fsck -fn on every ext partition whose journal is clean; others not checked."""
        verdicts = []
        for volume in self._volumes:
            layout, part = self._device(volume)
            if not part.is_ext:
                if volume.error:
                    verdicts.append(FsckVerdict(volume, "not_checked", "", volume.error))
                continue
            device = extfs.spec(layout.path, part.start_bytes)
            if extfs.needs_recovery(device):
                verdicts.append(FsckVerdict(
                    volume, "not_checked", "e2fsck",
                    self._reason or "its journal needs replaying on a copy, which needs "
                                    "libguestfs"))
                continue
            result = extfs.fsck(device, repair=False)
            tail = " | ".join(result.output.strip().splitlines()[-3:])
            verdicts.append(FsckVerdict(volume, "clean" if result.clean else "errors",
                                        "e2fsck", "" if result.clean else
                                        f"exit {result.returncode}: {tail}"))
        return verdicts
