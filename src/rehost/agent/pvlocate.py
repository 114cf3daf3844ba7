"""Where a VG's physical volumes lie on the job's disks, and their metadata areas saved."""

from collections.abc import Sequence
from pathlib import Path
from typing import List, Optional, Tuple

from rehost.agent import diskview
from rehost.agent.command import Runner
from rehost.agent.sendspec import SendDisk
from rehost.agent.volumes import SYS_ROOT, BlockTree, dev_of, disk_sysfs_dir

_PVS = ["pvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|", "-o",
        "pv_name,vg_name,pe_start,pv_mda_count"]


def locate_pvs(runner: Runner, vg: str, disks: "Sequence[SendDisk]", *, run_dir: Path,
               sys_root: Path = SYS_ROOT) -> "Optional[List[Tuple[int, diskview.Overlay]]]":
    """(disk index, saved-metadata overlay) of every PV of the VG; None when a PV is on no
    job disk (its metadata would change unseen) or has a second metadata area at its end."""
    starts = {}
    for disk in disks:
        sys_dir = disk_sysfs_dir(disk.path, sys_root)
        if sys_dir is not None:
            for dev, offset in BlockTree(sys_dir, sys_root).starts.items():
                starts[dev] = (disk, offset)
    found = []
    for line in runner(_PVS).splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 4 or fields[1] != vg:
            continue
        where = starts.get(dev_of(fields[0]))
        if where is None or fields[3] != "1":
            return None
        found.append((where[0], where[1], int(fields[2]), Path(fields[0]).name))
    overlays = []
    for disk, offset, pe_start, name in found:
        overlay = diskview.save_metadata(disk.path, offset_bytes=offset, length_bytes=pe_start,
                                         run_dir=run_dir, name=name, runner=runner)
        overlays.append((disk.index, overlay))
    return overlays or None
