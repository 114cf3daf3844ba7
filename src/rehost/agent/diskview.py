"""A read-only device-mapper view of a source disk: the disk itself, except that each
snapshotted LV's extents come from its snapshot and each PV's LVM metadata area from a copy
saved before the snapshot existed (so the image holds neither the snapshot nor its space).

The disk's own ranges are read through a read-only loop device over the disk, not the disk:
the kernel refuses a dm table on a whole disk while one of its partitions is held (the PV's
LVs hold it on every partitioned server), and a loop device reads the disk without claiming
it. The loop's path is kept in the run directory so a crashed agent's loop is detached."""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import List, NamedTuple

from rehost.agent.command import CommandError, Runner

VIEW_PREFIX = "rehost-view-"
SECTOR = 512


class Overlay(NamedTuple):
    """Disk bytes [offset, offset + length) read from `dev` at `dev_offset` instead."""

    offset_bytes: int
    length_bytes: int
    dev: str  # "major:minor"
    dev_offset_bytes: int


def view_table(disk_dev: str, disk_bytes: int, overlays: "Sequence[Overlay]") -> str:
    """The dm table (512-byte sectors): linear on the disk, the overlays in between."""
    lines, pos = [], 0
    for o in sorted(overlays):
        if o.offset_bytes % SECTOR or o.length_bytes % SECTOR or o.offset_bytes < pos:
            raise ValueError(f"overlay {o} is not sector aligned or overlaps another")
        if o.offset_bytes > pos:
            lines.append(_linear(pos, o.offset_bytes - pos, disk_dev, pos))
        lines.append(_linear(o.offset_bytes, o.length_bytes, o.dev, o.dev_offset_bytes))
        pos = o.offset_bytes + o.length_bytes
    if pos < disk_bytes:
        lines.append(_linear(pos, disk_bytes - pos, disk_dev, pos))
    return "".join(lines)


def _linear(start: int, length: int, dev: str, offset: int) -> str:
    return f"{start // SECTOR} {length // SECTOR} linear {dev} {offset // SECTOR}\n"


def view_name(disk: Path) -> str:
    """The dm name of a disk's view."""
    return VIEW_PREFIX + disk.name


def attach_disk(runner: Runner, disk: Path, *, name: str, run_dir: Path,
                sys_root: Path = Path("/sys")) -> str:
    """A read-only loop device over the whole disk (O_DIRECT, like the agent's own reads):
    its "major:minor" for the view's table; released by release_loops."""
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    attach = ["losetup", "--read-only", "--find", "--show"]
    try:
        loop = runner([*attach, "--direct-io=on", str(disk)]).strip()
    except CommandError:  # util-linux before 2.28 has no --direct-io: a buffered loop
        loop = runner([*attach, str(disk)]).strip()
    (run_dir / (name + ".disk")).write_text(loop + "\n")
    return (sys_root / "class/block" / Path(loop).name / "dev").read_text().strip()


def create_view(runner: Runner, *, name: str, table: str, run_dir: Path) -> Path:
    """Create the read-only dm device from the table; returns its path."""
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    table_file = run_dir / (name + ".table")
    table_file.write_text(table)
    try:
        runner(["dmsetup", "create", "--readonly", name, str(table_file)])
    finally:
        table_file.unlink()
    return Path("/dev/mapper") / name


def remove_view(runner: Runner, name: str) -> None:
    """Remove a view (its snapshot can be removed only after)."""
    runner(["dmsetup", "remove", "--retry", name])


def stale_views(runner: Runner) -> "List[str]":
    """Views a crashed agent left behind."""
    out = runner(["dmsetup", "ls"])
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith(VIEW_PREFIX)]


def save_metadata(disk: Path, *, offset_bytes: int, length_bytes: int, run_dir: Path,
                  name: str, runner: Runner, sys_root: Path = Path("/sys")) -> Overlay:
    """Copy a PV's label and metadata area into run_dir (a tmpfs) and attach it read-only as
    a loop device: the overlay that shows the metadata as it was before the snapshot."""
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    saved = run_dir / (name + ".meta")
    fd = os.open(str(disk), os.O_RDONLY)
    try:
        data = os.pread(fd, length_bytes, offset_bytes)
    finally:
        os.close(fd)
    if len(data) != length_bytes:
        raise OSError(f"short read of the LVM metadata area of {disk}")
    saved.write_bytes(data)
    loop = runner(["losetup", "--read-only", "--find", "--show", str(saved)]).strip()
    dev = (sys_root / "class/block" / Path(loop).name / "dev").read_text().strip()
    return Overlay(offset_bytes, length_bytes, dev, 0)


def release_loops(runner: Runner, run_dir: Path) -> None:
    """Detach the loop devices of saved metadata areas and delete the copies; detach the
    loop devices the views read their disks through (after the views are removed)."""
    if not run_dir.is_dir():
        return
    for kept in sorted(run_dir.glob("*.disk")):
        loop = kept.read_text().strip()
        if loop:
            runner(["losetup", "--detach", loop])
        kept.unlink()
    for saved in sorted(run_dir.glob("*.meta")):
        out = runner(["losetup", "--associated", str(saved)])  # "/dev/loop0: [...] (file)"
        for line in out.splitlines():
            if line.strip():
                runner(["losetup", "--detach", line.split(":")[0]])
        saved.unlink()
