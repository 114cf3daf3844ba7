"""`make bench`: full rehost migrations of the reference disk against reference tools.

Every tool and every rehost configuration runs --repeat times, interleaved, and the best
(minimum) and median wall times are reported: the machine is shared, and the minimum is the
run least disturbed by other load. Reference tools are reported alone (their output may still
be dirty in the page cache) and with an fsync of their output (rehost fsyncs before each ACK).
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from pathlib import Path

from bench import adaptation, e2e, fs_layouts, incremental, scale, tools, xfs_lvm
from bench.refdisk import reference_disk
from bench.rehost_run import RunResult, migrate

MIB = 1024 * 1024
LIMIT_KBPS = 10240
LIMITED_RUN_S = 8.0
CONFIGS = ((0, False), (1, False), (0, True), (1, True))
TOOLS: dict[str, Callable[[Path, Path], tools.ToolTime]] = {
    "rsync": tools.time_rsync,  # --whole-file to an rsync daemon over TCP
    "qemu-img": tools.time_qemu_img,  # convert raw -> raw
    "e2image": tools.time_e2image,  # -ra, the ext4 partition's used blocks
}


def main() -> None:
    """Build the disk, time everything, print the ratios against the targets."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("REHOST_BENCH_DIR", "/tmp/rehost-bench")))
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool and configuration")
    ap.add_argument("--skip-limit", action="store_true", help="skip the bandwidth-limit runs")
    args = ap.parse_args()
    disk = reference_disk(args.cache)
    work = args.cache / "work"
    print(f"reference disk: {disk} ({disk.stat().st_size // MIB} MiB), "
          f"load average {os.getloadavg()[0]:.1f}, best of {args.repeat}")
    ref: dict[str, list[tools.ToolTime]] = {name: [] for name in TOOLS}
    runs: dict[tuple[int, bool], list[RunResult]] = {c: [] for c in CONFIGS}
    for _ in range(args.repeat):
        for name, tool in TOOLS.items():
            ref[name].append(tool(disk, work))
        for level, checksum in CONFIGS:
            runs[(level, checksum)].append(migrate(disk, work, compress_level=level,
                                                   checksum=checksum))
    _report(ref, runs)
    _stdlib_runs(disk, work, runs)
    print("\nbytes read and sent per disk layout, real migrations (bench.fs_layouts):")
    fs_layouts.report(args.cache / "fs-layouts")
    print("\n16 GiB XFS-on-LVM, 15 % used, against partclone.xfs (bench.xfs_lvm; cold cache):")
    xfs_lvm.report(args.cache, rounds=max(3, args.repeat))
    print("\nOS adaptation (bench.adaptation) against the best 4 GiB sync of this run:")
    adaptation.report(args.cache, sync_s=min(r.elapsed_s for r in runs[(1, False)]))
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if not args.skip_limit:
        _limit_runs(disk, work, runs)
    print("\nend to end through the real processes (bench.e2e: server, agent, CLI; cold cache):")
    e2e.main(["--cache", str(args.cache), "--rounds", str(max(5, args.repeat))])
    print("\nscale (bench.scale: 1/4/10 concurrent 512 MiB jobs; job create with 1,000 jobs):")
    scale.main(["--cache", str(args.cache), "--rounds", str(args.repeat)])
    print("\nincremental cycle, 2 % changed in 4 KiB writes, vs rsync delta (bench.incremental):")
    incremental.main(["--cache", str(args.cache), "--rounds", str(max(5, args.repeat))])


def _report(ref: dict[str, list[tools.ToolTime]],
            runs: dict[tuple[int, bool], list[RunResult]]) -> None:
    best: dict[str, float] = {}
    median: dict[str, float] = {}
    for name, times in ref.items():
        alone, synced = [t.alone_s for t in times], [t.synced_s for t in times]
        best[name], best[name + "+fsync"] = min(alone), min(synced)
        median[name] = statistics.median(alone)
        median[name + "+fsync"] = statistics.median(synced)
        print(f"{name:31s} {min(alone):6.2f} s (median {median[name]:5.2f})"
              f"   + fsync {min(synced):6.2f} s (median {median[name + '+fsync']:5.2f})")
    for (level, checksum), rs in runs.items():
        secs = [r.elapsed_s for r in rs]
        r = min(rs, key=lambda x: x.elapsed_s)
        print(f"rehost compress={level} checksum={'on ' if checksum else 'off'}    "
              f"{min(secs):6.2f} s (median {statistics.median(secs):5.2f})  wire "
              f"{r.wire_bytes / MIB:7.1f} MiB  plan {r.plan_done_bytes / MIB:7.1f} MiB"
              f"  cpu {r.cpu_s:5.2f} s")
    rehost_best = {c: min(r.elapsed_s for r in rs) for c, rs in runs.items()}
    rehost_median = {c: statistics.median(r.elapsed_s for r in rs) for c, rs in runs.items()}
    _ratios("BEST ratios (best rehost time / best reference time)", rehost_best, best)
    _ratios("MEDIAN ratios (median rehost time / median reference time; steadier under load)",
            rehost_median, median)


def _ratios(title: str, rehost: dict[tuple[int, bool], float], ref: dict[str, float]) -> None:
    """One ratio table and the target lines, for best or for median times."""
    kind = title.split()[0].lower()
    print(f"\n{title}:")
    print(f"{'':20s}" + "".join(f"{name:>15s}" for name in ref))
    for (level, checksum), t in rehost.items():
        cells = "".join(f"{t / ref_s:15.2f}" for ref_s in ref.values())
        print(f"c{level} checksum {'on ' if checksum else 'off'}     {cells}")
    top = min(rehost.values())
    print(f"{kind} rehost / {kind} rsync           = {top / ref['rsync']:.2f}   (target <= 0.35)")
    print(f"{kind} rehost / {kind} e2image -ra     = {top / ref['e2image']:.2f}   (target <= 1.5)")
    print(f"{kind} rehost / {kind} e2image + fsync = {top / ref['e2image+fsync']:.2f}")


def _stdlib_runs(disk: Path, work: Path, runs: dict[tuple[int, bool], list[RunResult]]) -> None:
    """The portable agent's stdlib path (blake2b-128, zlib) next to the accelerated one, once."""
    print("\nstdlib fallback (python -I -S, no xxhash/zstandard) vs accelerated, checksum on:")
    for level in (0, 1):
        fast = min(runs[(level, True)], key=lambda x: x.elapsed_s)
        slow = migrate(disk, work, compress_level=level, checksum=True, stdlib=True)
        assert slow.completed, "the stdlib path did not finish"
        codec = ("zlib" if level else "raw", "zstd" if level else "raw")
        print(f"compress={level}: stdlib blake2b+{codec[0]} {slow.elapsed_s:6.2f} s "
              f"({disk.stat().st_size / MIB / slow.elapsed_s:6.0f} MiB/s, wire "
              f"{slow.wire_bytes / MIB:7.1f} MiB)   accelerated xxh3+{codec[1]} "
              f"{fast.elapsed_s:6.2f} s (wire {fast.wire_bytes / MIB:7.1f} MiB)   "
              f"stdlib / accelerated = {slow.elapsed_s / fast.elapsed_s:.2f} x")


def _limit_runs(disk: Path, work: Path, runs: dict[tuple[int, bool], list[RunResult]]) -> None:
    """At 10240 KB/s: rate accuracy, and how much faster level 1 moves the disk than level 0."""
    limit = LIMIT_KBPS * 1024
    moved = {}
    for level in (0, 1, 3):
        r = migrate(disk, work, compress_level=level, checksum=False,
                    bandwidth_limit_kbps=LIMIT_KBPS, stop_after_s=LIMITED_RUN_S)
        wire_rate = r.wire_bytes / r.elapsed_s
        moved[level] = r.plan_done_bytes / r.elapsed_s
        off = (wire_rate / limit - 1) * 100
        print(f"limit {LIMIT_KBPS} KB/s, compress={level}: wire {wire_rate / 1024:8.0f} KB/s"
              f" ({off:+.1f} %, {'OK' if abs(off) <= 5 else 'OUTSIDE'} target +-5 %), planned"
              f" disk bytes made durable {moved[level] / MIB:6.1f} MiB/s in the first"
              f" {LIMITED_RUN_S:.0f} s")
    print(f"compress 1 vs 0 under the limit, first {LIMITED_RUN_S:.0f} s: "
          f"{moved[1] / moved[0]:.2f} x (target >= 2)")
    # a held wire rate turns the whole disk's wire bytes into its time under the limit
    wire0, wire1 = (runs[(lvl, False)][0].wire_bytes for lvl in (0, 1))
    print(f"compress 1 vs 0 under the limit, whole disk (wire bytes {wire0 / MIB:.0f} vs "
          f"{wire1 / MIB:.0f} MiB at a held rate): {wire0 / wire1:.2f} x (target >= 2)")


if __name__ == "__main__":
    main()
