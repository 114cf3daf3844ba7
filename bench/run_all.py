"""`make bench`: full rehost migrations of the reference disk against reference tools."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench import tools
from bench.refdisk import reference_disk
from bench.rehost_run import RunResult, migrate

MIB = 1024 * 1024
LIMIT_KBPS = 10240
LIMITED_RUN_S = 8.0


def main() -> None:
    """Build the disk, time everything once, print the ratios against the targets."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("REHOST_BENCH_DIR", "/tmp/rehost-bench")))
    ap.add_argument("--skip-limit", action="store_true", help="skip the bandwidth-limit runs")
    args = ap.parse_args()
    disk = reference_disk(args.cache)
    work = args.cache / "work"
    print(f"reference disk: {disk} ({disk.stat().st_size // MIB} MiB)")
    ref = {"rsync (TCP, whole file)": tools.time_rsync(disk, work),
           "qemu-img convert": tools.time_qemu_img(disk, work),
           "e2image -ra": tools.time_e2image(disk, work)}
    for name, secs in ref.items():
        print(f"{name:34s} {secs:7.2f} s")
    runs = {}
    for level, checksum in ((0, False), (1, False), (0, True), (1, True)):
        r = migrate(disk, work, compress_level=level, checksum=checksum)
        runs[(level, checksum)] = r
        _print_run(f"rehost compress={level} checksum={'on' if checksum else 'off'}", r)
    rsync, e2 = ref["rsync (TCP, whole file)"], ref["e2image -ra"]
    best = min(r.elapsed_s for r in runs.values())
    print(f"\nbest rehost / rsync    = {best / rsync:.2f}   (target <= 0.35)")
    print(f"best rehost / e2image  = {best / e2:.2f}   (target <= 1.5)")
    for key, r in runs.items():
        print(f"  {key}: /rsync {r.elapsed_s / rsync:.2f}  /e2image {r.elapsed_s / e2:.2f}")
    if not args.skip_limit:
        _limit_runs(disk, work)


def _print_run(name: str, r: RunResult) -> None:
    print(f"{name:34s} {r.elapsed_s:7.2f} s  wire {r.wire_bytes / MIB:8.1f} MiB"
          f"  raw {r.raw_bytes / MIB:8.1f} MiB  {r.raw_bytes / MIB / r.elapsed_s:7.1f} MiB/s raw")


def _limit_runs(disk: Path, work: Path) -> None:
    """At 10240 KB/s: rate accuracy, and how much faster level 1 moves the disk than level 0."""
    limit = LIMIT_KBPS * 1024
    moved = {}
    for level in (0, 1):
        r = migrate(disk, work, compress_level=level, checksum=False,
                    bandwidth_limit_kbps=LIMIT_KBPS, stop_after_s=LIMITED_RUN_S)
        wire_rate = r.wire_bytes / r.elapsed_s
        moved[level] = r.raw_bytes / r.elapsed_s
        print(f"limit {LIMIT_KBPS} KB/s, compress={level}: wire {wire_rate / 1024:8.0f} KB/s"
              f" ({(wire_rate / limit - 1) * 100:+.1f} %), disk bytes moved"
              f" {moved[level] / MIB:6.1f} MiB/s")
    print(f"compress 1 vs 0 under the limit: {moved[1] / moved[0]:.2f} x (target >= 2)")


if __name__ == "__main__":
    main()
