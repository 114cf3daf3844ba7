"""LVM snapshots of mounted LVs for a point-in-time copy (lvcreate -s), found and removed again.

Every snapshot the agent makes is named SNAP_PREFIX + the LV's name, so one left behind by a
crashed agent is found and removed at the next start.
"""

from typing import List, NamedTuple, Tuple

from rehost.agent.command import Runner

SNAP_PREFIX = "rehost-snap-"
MIN_SNAPSHOT_BYTES = 16 * 1024 * 1024
DEFAULT_SNAPSHOT_PERCENT = 20
_LVS = ["lvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|"]


class LvInfo(NamedTuple):
    """What a snapshot decision needs to know of one LV and its VG."""

    vg: str
    lv: str
    size_bytes: int
    vg_free_bytes: int
    extent_bytes: int
    segment_type: str  # "linear", "striped", "thin", ...
    origin: str  # the LV is itself a snapshot of this one ("" if not)


def lv_info(runner: Runner, dm_name: str) -> LvInfo:
    """The LV behind /dev/mapper/<dm_name> (matched on lv_dm_path, whatever its name)."""
    out = runner([*_LVS, "-o", "vg_name,lv_name,lv_size,vg_free,vg_extent_size,segtype,origin,"
                  "lv_dm_path"])
    for line in out.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) == 8 and fields[7] == "/dev/mapper/" + dm_name:
            vg, lv, size, free, extent, segtype, origin = fields[:7]
            return LvInfo(vg, lv, int(size), int(free), int(extent), segtype, origin)
    raise ValueError(f"lvs does not list /dev/mapper/{dm_name}")


def snapshot_bytes(info: LvInfo, percent: int) -> int:
    """Copy-on-write space for a snapshot of the LV: percent of it, within the VG's free
    extents; 0 when the VG has too little room (then the volume is frozen instead)."""
    want = max(MIN_SNAPSHOT_BYTES, info.size_bytes * percent // 100)
    extent = max(1, info.extent_bytes)
    room = info.vg_free_bytes - info.vg_free_bytes % extent
    size = min(-(-want // extent) * extent, room)
    return size if size >= MIN_SNAPSHOT_BYTES else 0


def snapshot_name(info: LvInfo) -> str:
    """The snapshot's LV name (LVM allows 127 characters)."""
    return (SNAP_PREFIX + info.lv)[:127]


def create_snapshot(runner: Runner, info: LvInfo, size_bytes: int) -> str:
    """Make the snapshot; returns its LV name."""
    name = snapshot_name(info)
    runner(["lvcreate", "--snapshot", "--yes", "--name", name, "--size", f"{size_bytes}b",
            f"{info.vg}/{info.lv}"])
    return name


def kernel_dev(runner: Runner, vg: str, name: str) -> str:
    """"major:minor" of an active LV."""
    out = runner([*_LVS, "-o", "lv_kernel_major,lv_kernel_minor", f"{vg}/{name}"])
    major, minor = (f.strip() for f in out.strip().split("|"))
    return f"{major}:{minor}"


def remove_snapshot(runner: Runner, vg: str, name: str) -> None:
    """Remove a snapshot LV of the agent."""
    runner(["lvremove", "--yes", "--force", f"{vg}/{name}"])


def stale_snapshots(runner: Runner) -> "List[Tuple[str, str]]":
    """(vg, lv) of every snapshot the agent left behind."""
    out = runner([*_LVS, "-o", "vg_name,lv_name"])
    found = []
    for line in out.splitlines():
        vg, _, lv = (f.strip() for f in line.partition("|"))
        if lv.startswith(SNAP_PREFIX):
            found.append((vg, lv))
    return found
