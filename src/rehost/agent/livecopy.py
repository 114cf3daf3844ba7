"""Consistent copies of live sources: which method protects each mounted volume.

Per mounted volume of a job disk: a read-only mount needs nothing; an LVM LV whose VG has free
extents is read from an LVM snapshot (through a dm view of the disk); any other freezable
filesystem gets a final catch-up pass under fsfreeze; anything else is copied live,
crash-inconsistent. The job log gets one line per volume saying which (docs/consistency.md).
"""

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

from rehost.agent import diskview, lvmsnap
from rehost.agent.command import CommandError, Runner, run_command
from rehost.agent.freeze import DEFAULT_FREEZE_LIMIT_S, Freezer, IoctlFreezer
from rehost.agent.pvlocate import locate_pvs
from rehost.agent.sendspec import SendDisk
from rehost.agent.volumes import (
    PROC_MOUNTINFO,
    SYS_ROOT,
    BlockTree,
    Mount,
    MountedVolume,
    disk_sysfs_dir,
    mounted_volumes,
    parse_mountinfo,
)

log = logging.getLogger(__name__)
FREEZABLE = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs",
                       "nilfs2", "gfs2", "ocfs2"})
RUN_DIR = Path("/run/rehost-agent")
CRASH_INCONSISTENT = "copied live, crash-inconsistent"


class LiveSettings(NamedTuple):
    """The agent's consistency settings (`rehost agent run` options)."""

    snapshot_percent: int = lvmsnap.DEFAULT_SNAPSHOT_PERCENT
    freeze_limit_s: float = DEFAULT_FREEZE_LIMIT_S
    run_dir: Path = RUN_DIR


class Snapshot(NamedTuple):
    """A snapshot the agent made, to remove afterwards."""

    vg: str
    name: str


class LiveCopy:
    """The protection of one job's disks: views to read, volumes to freeze, job-log notes."""

    def __init__(self, disks: "Sequence[SendDisk]", *, runner: Runner, freezer: Freezer,
                 settings: LiveSettings, mounts: "Sequence[Mount]", sys_root: Path = SYS_ROOT,
                 resolve: "Callable[[Path], Optional[Path]]" = disk_sysfs_dir) -> None:
        self.runner, self.freezer, self.settings = runner, freezer, settings
        self.disks = tuple(disks)
        trees = {d.index: resolve(d.path) for d in disks}
        self.trees = {i: BlockTree(t, sys_root) for i, t in trees.items() if t is not None}
        self.volumes = {d.index: mounted_volumes(self.trees[d.index], runner=runner,
                                                 mounts=mounts) if d.index in self.trees else []
                        for d in disks}
        self.notes: Dict[int, List[str]] = {d.index: [] for d in disks}
        self.frozen: Dict[int, List[MountedVolume]] = {d.index: [] for d in disks}
        self.snapshots: List[Snapshot] = []
        self.views: List[str] = []
        self._saved: Dict[str, Optional[List[Tuple[int, diskview.Overlay]]]] = {}

    @property
    def freeze_limit_s(self) -> float:
        """The longest a catch-up pass may keep the volumes frozen."""
        return self.settings.freeze_limit_s

    @property
    def active(self) -> bool:
        """Whether any job disk has a mounted volume."""
        return any(self.volumes.values())

    def needs_catch_up(self) -> bool:
        """Whether a final pass under fsfreeze follows the copy."""
        return any(self.frozen.values())

    def freeze_points(self) -> "List[str]":
        """Mount points to freeze for the catch-up pass, each once."""
        points = {v.mount_point for vols in self.frozen.values() for v in vols}
        return sorted(points)

    def catch_up_ranges(self, index: int) -> "Optional[List[Tuple[int, int]]]":
        """Disk ranges the catch-up pass re-reads; None: the whole disk (a range unknown)."""
        vols = self.frozen.get(index, [])
        if any(not v.ranges for v in vols):
            return None
        return sorted(r for v in vols for r in v.ranges)

    def setup(self) -> "Tuple[SendDisk, ...]":
        """Snapshot what can be, choose the rest; returns the disks to read (views or not)."""
        snapped: Dict[int, List[diskview.Overlay]] = {d.index: [] for d in self.disks}
        for disk in self.disks:
            for vol in self.volumes[disk.index]:
                self._protect(disk, vol, snapped)
        return tuple(self._view(d, snapped[d.index]) for d in self.disks)

    def _protect(self, disk: SendDisk, vol: MountedVolume,
                 snapped: "Dict[int, List[diskview.Overlay]]") -> None:
        say = self.notes[disk.index].append
        if vol.read_only:
            say(f"volume {vol.label}: mounted read-only, copied as is (consistent)")
            return
        why = ""
        if vol.is_lvm:
            why = self._snapshot(disk, vol, snapped)
            if not why:
                say(f"volume {vol.label}: protected by an LVM snapshot (read from "
                    f"{lvmsnap.SNAP_PREFIX}…, removed after the copy)")
                return
        if vol.fstype in FREEZABLE:
            self.frozen[disk.index].append(vol)
            say(f"volume {vol.label}: {why + '; ' if why else ''}protected by a final "
                f"catch-up pass under fsfreeze (at most {self.settings.freeze_limit_s:g} s)")
            return
        say(f"volume {vol.label}: {why + '; ' if why else ''}{vol.fstype} cannot be frozen: "
            f"{CRASH_INCONSISTENT}")

    def _snapshot(self, disk: SendDisk, vol: MountedVolume,
                  snapped: "Dict[int, List[diskview.Overlay]]") -> str:
        """Snapshot the LV and record its overlays; "" on success, else why not."""
        if not vol.ranges:
            return "no LVM snapshot (the LV is not linear on this disk alone)"
        try:
            info = lvmsnap.lv_info(self.runner, vol.dm_name)
            if info.origin or info.segment_type != "linear":
                return f"no LVM snapshot (a {info.segment_type or 'snapshot'} LV)"
            size = lvmsnap.snapshot_bytes(info, self.settings.snapshot_percent)
            if not size:
                return (f"no LVM snapshot (VG {info.vg} has {info.vg_free_bytes} bytes free, "
                        f"{lvmsnap.MIN_SNAPSHOT_BYTES} needed)")
            meta = self._metadata_overlays(info.vg)
            if meta is None:
                return f"no LVM snapshot (a PV of VG {info.vg} is not on the job's disks or " \
                       "has more than one metadata area)"
            name = lvmsnap.create_snapshot(self.runner, info, size)
            self.snapshots.append(Snapshot(info.vg, name))  # removed even if what follows fails
            dev = lvmsnap.kernel_dev(self.runner, info.vg, name)
        except (CommandError, OSError, ValueError) as exc:
            return f"no LVM snapshot ({exc})"
        for index, overlay in meta:
            if overlay not in snapped[index]:
                snapped[index].append(overlay)
        lv_offset = 0
        for offset, length in vol.ranges:
            snapped[disk.index].append(diskview.Overlay(offset, length, dev, lv_offset))
            lv_offset += length
        return ""

    def _metadata_overlays(self, vg: str) -> "Optional[List[Tuple[int, diskview.Overlay]]]":
        """The VG's PV metadata areas as they were before its first snapshot, by job disk."""
        if vg not in self._saved:  # a second LV of the VG: its metadata has a snapshot now
            disks = [(d, self.trees[d.index]) for d in self.disks if d.index in self.trees]
            self._saved[vg] = locate_pvs(self.runner, vg, disks, run_dir=self.settings.run_dir)
        return self._saved[vg]

    def _view(self, disk: SendDisk, overlays: "List[diskview.Overlay]") -> SendDisk:
        if not overlays:
            return disk
        tree = self.trees[disk.index]
        name = diskview.view_name(disk.path)
        reader = diskview.attach_disk(self.runner, disk.path, name=name,
                                      run_dir=self.settings.run_dir, sys_root=tree.sys_root)
        table = diskview.view_table(reader, tree.size_bytes, overlays)
        path = diskview.create_view(self.runner, name=name, table=table,
                                    run_dir=self.settings.run_dir)
        self.views.append(name)
        return disk._replace(path=path)

    def release(self) -> None:
        """Remove the views, then the snapshots, then the saved metadata (errors logged)."""
        steps = [(diskview.remove_view, (v,)) for v in self.views] + \
                [(lvmsnap.remove_snapshot, (s.vg, s.name)) for s in self.snapshots]
        for step, args in steps:
            try:
                step(self.runner, *args)
            except CommandError as exc:
                log.warning("live copy clean-up: %s", exc)
        self.views, self.snapshots = [], []
        try:
            diskview.release_loops(self.runner, self.settings.run_dir)
        except (CommandError, OSError) as exc:
            log.warning("live copy clean-up: %s", exc)


def live_copy(disks: "Sequence[SendDisk]", settings: LiveSettings,
              runner: Runner = run_command) -> LiveCopy:
    """The LiveCopy of the real system (mountinfo, sysfs, LVM tools, FIFREEZE)."""
    try:
        mounts = parse_mountinfo(PROC_MOUNTINFO.read_text())
    except OSError:
        mounts = []
    return LiveCopy(disks, runner=runner, freezer=IoctlFreezer(), settings=settings,
                    mounts=mounts)


def clean_stale(runner: Runner = run_command, run_dir: Path = RUN_DIR) -> "List[str]":
    """Remove what a crashed agent left (views, then snapshots, then saved metadata)."""
    removed = []
    try:
        for name in diskview.stale_views(runner):
            diskview.remove_view(runner, name)
            removed.append(f"view {name}")
    except CommandError as exc:  # no dmsetup on this source, or a view still in use
        log.debug("stale views: %s", exc)
    try:
        for vg, lv in lvmsnap.stale_snapshots(runner):
            lvmsnap.remove_snapshot(runner, vg, lv)
            removed.append(f"snapshot {vg}/{lv}")
    except CommandError as exc:
        log.debug("stale snapshots: %s", exc)
    try:
        diskview.release_loops(runner, run_dir)
    except (CommandError, OSError) as exc:
        log.warning("stale LVM metadata copies not released: %s", exc)
    return removed
