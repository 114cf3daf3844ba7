"""Bytes a real migration reads and sends per disk layout (LVM, XFS, btrfs, FAT, swap).

Each layout is built by the real tools (tests/fslayouts.py: stale random data in all free
space), planned, then migrated by the real sender to a transit receiver in its own process
over TLS (bench.rehost_run.migrate, compression off so the wire shows the data itself):

- used: what the filesystems' own tools count (dumpe2fs, xfs_db, fsck.vfat; swap: its header
  page; btrfs: its block groups' used bytes from dump-tree, DUP metadata counted twice, as it
  lies twice on the device); meta: planned bytes outside every filesystem (partition tables,
  alignment gaps, LVM PV headers and metadata areas) and btrfs's reserved first MiB, all sent
  as-is (it may hold a boot loader);
- read: bytes the sending process read while it sent (/proc/self/io rchar: the plan's
  metadata reads and the chunk reads, socket reads of the acks included; the transit's reads
  left out); sent: bytes on the wire (TLS payload);
- target: (used + meta) x 1.03; PASS when read and sent are both within it.

Run: python -m bench.fs_layouts [--work DIR].
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from bench.rehost_run import migrate
from diskfactory import run
from fslayouts import LayoutDisk, make_lvm_disk, make_single_fs_disk
from rehost.diskfmt import SendPlan, describe_plan
from rehost.diskfmt.btrfs import RESERVED_BYTES

MB = 1e6
MARGIN = 1.03
LAYOUTS: dict[str, Callable[[Path], LayoutDisk]] = {
    "LVM: ext4 /boot + ext4 root LV + swap LV": lambda d: make_lvm_disk(d),
    "LVM: ext4 /boot + XFS root LV + swap LV": lambda d: make_lvm_disk(d, root_kind="xfs"),
    "XFS partition": lambda d: make_single_fs_disk(d, "xfs"),
    "btrfs partition": lambda d: make_single_fs_disk(d, "btrfs"),
    "FAT32 partition (ESP-like)": lambda d: make_single_fs_disk(d, "vfat"),
    "swap partition": lambda d: make_single_fs_disk(d, "swap", size_mib=256),
}


@dataclass(frozen=True)
class LayoutBytes:
    """What one layout's migration planned, read and sent, against its used bytes."""

    name: str
    disk_bytes: int
    used_bytes: int
    meta_bytes: int
    plan_bytes: int
    read_bytes: int
    sent_bytes: int
    notes: tuple[str, ...]

    @property
    def target_bytes(self) -> int:
        """(used + metadata) x 1.03."""
        return int((self.used_bytes + self.meta_bytes) * MARGIN)

    @property
    def passed(self) -> bool:
        """Read and sent both within the target."""
        return max(self.read_bytes, self.sent_bytes) <= self.target_bytes


def _outside(disk: LayoutDisk, plan: SendPlan) -> int:
    """Planned bytes outside every filesystem (tables, gaps, PV headers)."""
    spans = [(e.offset_bytes, e.end_bytes) for e in plan.extents]
    inside = 0
    for fs in disk.filesystems.values():
        lo, hi = fs.start_bytes, fs.start_bytes + fs.size_bytes
        inside += sum(max(0, min(e, hi) - max(s, lo)) for s, e in spans)
    return sum(e - s for s, e in spans) - inside


def btrfs_device_used(image: Path, start_bytes: int) -> int:
    """Bytes btrfs's block groups use on the device: DUP and RAID1 groups count twice."""
    out = run("btrfs", "inspect-internal", "dump-tree", "-t", "extent",
              f"{image}" if start_bytes == 0 else _btrfs_alone(image, start_bytes))
    total = 0
    for used, flags in re.findall(r"block group used (\d+) chunk_objectid \d+ flags (\S+)", out):
        total += int(used) * (2 if "DUP" in flags or "RAID1" in flags else 1)
    return total


def _btrfs_alone(image: Path, start_bytes: int) -> str:
    """A copy of the btrfs partition on its own (dump-tree takes no offset)."""
    alone = image.with_suffix(".btrfs")
    run("dd", f"if={image}", f"of={alone}", "bs=1M", f"skip={start_bytes}", "iflag=skip_bytes",
        "conv=sparse", "status=none")
    return str(alone)


def _used_and_meta(disk: LayoutDisk, plan: SendPlan) -> tuple[int, int]:
    used, meta = 0, _outside(disk, plan)
    for fs in disk.filesystems.values():
        if fs.kind == "btrfs":
            used += btrfs_device_used(disk.path, fs.start_bytes)
            meta += RESERVED_BYTES
        else:
            used += fs.used_bytes
    return used, meta


def measure(name: str, disk: LayoutDisk, work: Path) -> LayoutBytes:
    """Plan the disk, then migrate it for real and count what was read and sent."""
    plan = describe_plan(disk.path)
    used, meta = _used_and_meta(disk, plan)
    result = migrate(disk.path, work, compress_level=0, checksum=False)
    if not result.completed:
        raise RuntimeError(f"{name}: the migration did not complete")
    return LayoutBytes(name, disk.size_bytes, used, meta, plan.planned_bytes,
                       result.read_bytes, result.wire_bytes, plan.notes)


def print_row(row: LayoutBytes) -> None:
    """One table row, its verdict and the plan's notes."""
    print(f"{row.name:42s} {row.disk_bytes / MB:7.1f} {row.used_bytes / MB:7.1f} "
          f"{row.meta_bytes / MB:6.1f} {row.plan_bytes / MB:7.1f} {row.read_bytes / MB:7.1f} "
          f"{row.sent_bytes / MB:7.1f} {row.target_bytes / MB:7.1f} "
          f"{max(row.read_bytes, row.sent_bytes) / (row.used_bytes + row.meta_bytes):6.3f}  "
          f"{'PASS' if row.passed else 'FAIL'}")
    for note in row.notes:
        print(f"    note: {note}")


def report(work: Path) -> list[LayoutBytes]:
    """Build each layout under `work`, migrate it, print the table; returns the rows."""
    print(f"{'layout (MB)':42s} {'disk':>7s} {'used':>7s} {'meta':>6s} {'plan':>7s} "
          f"{'read':>7s} {'sent':>7s} {'target':>7s} {'/(u+m)':>6s}  (target: (used + meta)"
          f" x {MARGIN})")
    rows = []
    for name, build in LAYOUTS.items():
        directory = work / name.split(":")[0].replace(" ", "-").replace("/", "-")
        directory.mkdir(parents=True, exist_ok=True)
        disk = build(directory)
        rows.append(measure(name, disk, directory / "migration"))
        print_row(rows[-1])
        shutil.rmtree(directory, ignore_errors=True)
    print(f"send bytes per layout: {sum(r.passed for r in rows)} of {len(rows)} PASS")
    return rows


def main() -> None:
    """Parse --work and print the report."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None, help="scratch directory")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="rehost-fs-bench-"))
    report(work)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
