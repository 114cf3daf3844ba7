"""Where a VG's physical volumes lie on the job's disks, and their metadata areas saved."""

from collections.abc import Sequence
from pathlib import Path
from typing import List, Optional, Tuple

from rehost.agent import diskview
from rehost.agent.command import Runner
from rehost.agent.sendspec import SendDisk
from rehost.agent.volumes import BlockTree

_PVS = ["pvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|", "-o",
        "pv_name,vg_name,pe_start,pv_mda_count"]


def locate_pvs(runner: Runner, vg: str, disks: "Sequence[Tuple[SendDisk, BlockTree]]", *,
               run_dir: Path) -> "Optional[List[Tuple[int, diskview.Overlay]]]":
    """(disk index, saved-metadata overlay) of every PV of the VG; None when a PV is on no
    job disk (its metadata would change unseen) or has a second metadata area at its end."""
    found = []
    for line in runner(_PVS).splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 4 or fields[1] != vg:
            continue
        where = [(d, tree, tree.locate(fields[0])) for d, tree in disks]
        hits = [(d, tree, off) for d, tree, off in where if off is not None]
        if not hits or fields[3] != "1":
            return None
        disk, tree, offset = hits[0]
        found.append((disk, tree, offset or 0, int(fields[2]), Path(fields[0]).name))
    overlays = []
    for disk, tree, offset, pe_start, name in found:
        overlay = diskview.save_metadata(disk.path, offset_bytes=offset, length_bytes=pe_start,
                                         run_dir=run_dir, name=name, runner=runner,
                                         sys_root=tree.sys_root)
        overlays.append((disk.index, overlay))
    return overlays or None
