"""Bytes the send plan reads per disk layout (LVM, XFS, btrfs, FAT) against the used bytes.

Run: python -m bench.fs_layouts [--work DIR]. Target: planned <= (used + metadata) x 1.03,
where metadata is the partition table area, alignment gaps and LVM PV headers (sent as-is).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from fslayouts import LayoutDisk, make_lvm_disk, make_single_fs_disk
from rehost.diskfmt import describe_plan

MB = 1e6
LAYOUTS: dict[str, Callable[[Path], LayoutDisk]] = {
    "LVM: ext4 /boot + ext4 root LV + swap LV": lambda d: make_lvm_disk(d),
    "LVM: ext4 /boot + XFS root LV + swap LV": lambda d: make_lvm_disk(d, root_kind="xfs"),
    "XFS partition": lambda d: make_single_fs_disk(d, "xfs"),
    "btrfs partition": lambda d: make_single_fs_disk(d, "btrfs"),
    "FAT32 partition (ESP-like)": lambda d: make_single_fs_disk(d, "vfat"),
}


def _outside(disk: LayoutDisk, planned: list[tuple[int, int]]) -> int:
    """Planned bytes outside every filesystem (tables, gaps, PV headers)."""
    inside = 0
    for fs in disk.filesystems.values():
        lo, hi = fs.start_bytes, fs.start_bytes + fs.size_bytes
        inside += sum(max(0, min(e, hi) - max(s, lo)) for s, e in planned)
    return sum(e - s for s, e in planned) - inside


def report(work: Path) -> None:
    """Build each layout with the real tools under `work`, plan it, print planned vs used."""
    print(f"{'layout':44s} {'disk MB':>8s} {'used MB':>8s} {'meta MB':>8s} {'plan MB':>8s}"
          f" {'plan/(used+meta)':>17s}")
    for name, build in LAYOUTS.items():
        directory = work / name.split(":")[0].replace(" ", "-")
        directory.mkdir(parents=True, exist_ok=True)
        disk = build(directory)
        plan = describe_plan(disk.path)
        spans = [(e.offset_bytes, e.end_bytes) for e in plan.extents]
        meta = _outside(disk, spans)
        ratio = plan.planned_bytes / (disk.used_bytes + meta)
        flag = "ok" if ratio <= 1.03 else "OVER 3 %"
        print(f"{name:44s} {disk.size_bytes / MB:8.1f} {disk.used_bytes / MB:8.1f} "
              f"{meta / MB:8.1f} {plan.planned_bytes / MB:8.1f} {ratio:16.3f}  {flag}")
        for note in plan.notes:
            print(f"    note: {note}")
        disk.path.unlink()


def main() -> None:
    """Parse --work and print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=None, help="scratch directory")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="rehost-fs-bench-"))
    report(work)
    if args.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
