"""A 16 GiB XFS-on-LVM disk, 15 % used: rehost against partclone.xfs (read, pipe, write).

The disk is a sparse image (GPT, one LVM partition, a root LV holding XFS built by mkfs.xfs
from a tree of real files), built once under --cache. Every round drops the page cache and
runs, in alternating order:

- rehost: the real sender (send plan, TLS; the job defaults: no compression, no checksum)
  to a transit receiver in its own process,
  until every chunk is durable (bench.rehost_run.migrate);
- partclone: `partclone.xfs -c -s LOOP -o - | partclone.xfs -r -s - -O OUT`, then a sync of
  OUT. The host has no device-mapper, so partclone reads the linear LV through a
  loop device over its byte range (losetup --offset/--sizelimit).

    python -m bench.xfs_lvm --rounds 3      # target: median rehost / partclone <= 1.2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from bench.e2e_procs import drop_caches
from bench.rehost_run import migrate
from diskfactory import MIB, populate_tree
from fslayouts import _protofile, loop_device, make_lvs, used_bytes

GIB = 1024 * MIB
DISK_BYTES = 16 * GIB
LV_BYTES = 15 * GIB
USED_FRACTION = 0.15
TARGET = 1.2


@dataclass(frozen=True)
class XfsLvmDisk:
    """The bench disk and where its XFS root LV lies."""

    path: Path
    lv_offset_bytes: int
    lv_size_bytes: int
    used_bytes: int


def build_disk(cache: Path) -> XfsLvmDisk:
    """The cached disk, or build it (about 2.4 GiB of files; a few minutes)."""
    directory = cache / "xfs-lvm-16g"
    meta = directory / "disk.json"
    if meta.exists():
        doc = json.loads(meta.read_text())
        disk = XfsLvmDisk(Path(doc["path"]), doc["lv_offset_bytes"], doc["lv_size_bytes"],
                          doc["used_bytes"])
        if disk.path.exists():
            return disk
    directory.mkdir(parents=True, exist_ok=True)
    image = directory / "xfs-lvm-16g.img"
    ((pv_start, pv_size),) = _sparse_partition(image)
    offset = make_lvs(image, offset=pv_start, size=pv_size, lvs={"root": LV_BYTES})["root"]
    tree = directory / "tree"
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    tree.mkdir()
    populate_tree(tree, int(DISK_BYTES * USED_FRACTION) - 96 * MIB, seed=16)
    proto = directory / "root.proto"
    proto.write_text(_protofile(tree))
    with loop_device(image, offset=offset, size=LV_BYTES) as dev:
        subprocess.run(["mkfs.xfs", "-q", "-f", "-K", "-p", str(proto), dev], check=True)
        used = used_bytes("xfs", Path(dev))
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    disk = XfsLvmDisk(image, offset, LV_BYTES, used)
    meta.write_text(json.dumps({"path": str(image), "lv_offset_bytes": offset,
                                "lv_size_bytes": LV_BYTES, "used_bytes": used}))
    return disk


def _sparse_partition(image: Path) -> list[tuple[int, int]]:
    """A GPT with one LVM partition over the sparse disk (no stale fill: 16 GiB of it)."""
    image.unlink(missing_ok=True)
    with image.open("wb") as f:
        f.truncate(DISK_BYTES)
    subprocess.run(["sfdisk", "-q", str(image)], input="label: gpt\ntype=lvm\n", text=True,
                   check=True, capture_output=True)
    return partition_rows(image)


def partition_rows(image: Path) -> list[tuple[int, int]]:
    """(start, size) in bytes of every partition, as sfdisk reads them."""
    doc = json.loads(subprocess.run(["sfdisk", "-J", str(image)], check=True,
                                    capture_output=True, text=True).stdout)
    return [(p["start"] * 512, p["size"] * 512) for p in doc["partitiontable"]["partitions"]]


def time_rehost(disk: XfsLvmDisk, work: Path) -> float:
    """The real sender to a transit process, cold cache, until every chunk is durable."""
    drop_caches()
    result = migrate(disk.path, work, compress_level=0, checksum=False)  # the job defaults
    if not result.completed:
        raise RuntimeError("the rehost migration did not complete")
    return result.elapsed_s


def time_partclone(disk: XfsLvmDisk, work: Path) -> float:
    """partclone.xfs clone | restore through a pipe, cold cache, then the output synced."""
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    out = work / "lv.img"
    with out.open("wb") as f:
        f.truncate(disk.lv_size_bytes)  # partclone restores into a target of the LV's size
    with loop_device(disk.path, offset=disk.lv_offset_bytes, size=disk.lv_size_bytes) as dev:
        drop_caches()
        started = time.perf_counter()
        subprocess.run(["sh", "-c", f"partclone.xfs -q -c -s {dev} -o - | "
                                    f"partclone.xfs -q -r -s - -O {out}"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["sync", str(out)], check=True)
        elapsed = time.perf_counter() - started
    subprocess.run(["rm", "-rf", str(work)], check=True)
    return elapsed


def run_rounds(disk: XfsLvmDisk, work: Path, rounds: int) -> dict[str, list[float]]:
    """Interleaved rounds, the order alternating so neither always runs first."""
    runs: dict[str, Callable[[], float]] = {
        "rehost": lambda: time_rehost(disk, work / "rehost"),
        "partclone.xfs": lambda: time_partclone(disk, work / "partclone")}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for rnd in range(rounds):
        order = list(runs) if rnd % 2 == 0 else list(reversed(runs))
        for name in order:
            times[name].append(runs[name]())
        print(f"round {rnd + 1}/{rounds}: " + "  ".join(
            f"{n} {t[-1]:6.2f} s" for n, t in times.items()), flush=True)
    return times


def report(cache: Path, *, rounds: int) -> None:
    """Build (or reuse) the disk, run the rounds, print medians and the ratio against 1.2."""
    disk = build_disk(cache)
    cold = drop_caches()
    print(f"16 GiB XFS-on-LVM disk {disk.path}: XFS used {disk.used_bytes / GIB:.2f} GiB "
          f"({disk.used_bytes / DISK_BYTES * 100:.1f} % of the disk); cold cache: "
          f"{'yes' if cold else 'NO (not root)'}; {rounds} rounds, load average "
          f"{os.getloadavg()[0]:.1f}")
    times = run_rounds(disk, cache / "xfs-lvm-work", rounds)
    rehost, partclone = (statistics.median(times[n]) for n in ("rehost", "partclone.xfs"))
    per_round = statistics.median(r / p for r, p in zip(times["rehost"],
                                                        times["partclone.xfs"], strict=True))
    verdict = "PASS" if rehost / partclone <= TARGET else "FAIL"
    print(f"median rehost {rehost:6.2f} s, median partclone.xfs {partclone:6.2f} s: "
          f"rehost / partclone.xfs = {rehost / partclone:.2f} (median of per-round ratios "
          f"{per_round:.2f}; target <= {TARGET})  {verdict}")


def main() -> None:
    """Parse --cache and --rounds, print the report."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("REHOST_BENCH_DIR", "/tmp/rehost-bench")))
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (at least 3)")
    args = ap.parse_args()
    if args.rounds < 3:
        ap.error("--rounds must be 3 or more / --rounds 至少为 3")
    report(args.cache, rounds=args.rounds)


if __name__ == "__main__":
    main()
