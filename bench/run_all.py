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
LIMITED_RUN_S = 15.0
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
    ap.add_argument("--only-limit", action="store_true",
                    help="run only the bandwidth-limit runs (--repeat rounds, medians)")
    ap.add_argument("--limit-whole-disk", action="store_true",
                    help="also send the whole disk under the limit at levels 0 and 1 (~3.5 min)")
    args = ap.parse_args()
    disk = reference_disk(args.cache)
    work = args.cache / "work"
    if args.only_limit:
        print(f"reference disk: {disk}, load average {os.getloadavg()[0]:.1f}")
        _limit_runs(disk, work, rounds=args.repeat)
        if args.limit_whole_disk:
            _limit_whole_disk(disk, work)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        return
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
        _limit_runs(disk, work, rounds=args.repeat)
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


def _limit_runs(disk: Path, work: Path, *, rounds: int) -> None:
    """At 10240 KB/s: rate accuracy, and how much faster level 1 moves the disk than level 0.

    Each run is stopped after LIMITED_RUN_S; levels interleave over `rounds` rounds and the
    medians are printed. Levels 1 and 3 are adaptive (rehost.agent.adaptive): under the limit
    they climb while the CPU keeps up, so the unlimited runs' wire bytes (where the level falls
    to raw) say nothing about a limited link; only these runs do.
    """
    limit = LIMIT_KBPS * 1024
    levels = (0, 1, 3)
    got: dict[int, list[RunResult]] = {level: [] for level in levels}
    for rnd in range(rounds):
        for level in levels[rnd % 3:] + levels[:rnd % 3]:
            got[level].append(migrate(disk, work, compress_level=level, checksum=False,
                                      bandwidth_limit_kbps=LIMIT_KBPS,
                                      stop_after_s=LIMITED_RUN_S))
    moved = {}
    for level in levels:
        rs = got[level]
        wire_rate = statistics.median(r.wire_bytes / r.elapsed_s for r in rs)
        moved[level] = statistics.median(r.plan_done_bytes / r.elapsed_s for r in rs)
        ratio = statistics.median(r.raw_bytes / max(r.wire_bytes, 1) for r in rs)
        cpu = statistics.median(r.cpu_s for r in rs)
        off = (wire_rate / limit - 1) * 100
        print(f"limit {LIMIT_KBPS} KB/s, compress={level}: wire {wire_rate / 1024:8.0f} KB/s"
              f" ({off:+.1f} %, {'OK' if abs(off) <= 5 else 'OUTSIDE'} target +-5 %), planned"
              f" disk bytes made durable {moved[level] / MIB:6.1f} MiB/s, raw/wire"
              f" {ratio:4.2f}, cpu {cpu:5.1f} s in {LIMITED_RUN_S:.0f} s"
              f" (median of {len(rs)}; offsets "
              + " ".join(f"{(r.wire_bytes / r.elapsed_s / limit - 1) * 100:+.1f}" for r in rs)
              + ")")
    for level in (1, 3):
        print(f"compress {level} vs 0 under the limit, disk bytes per second over the first "
              f"{LIMITED_RUN_S:.0f} s: {moved[level] / moved[0]:.2f} x (target >= 2 for level 1)")


def _limit_whole_disk(disk: Path, work: Path) -> None:
    """The whole disk under the limit at levels 0 and 1: disk bytes per second, end to end.

    The first seconds of a run are not the disk's mix (the planned area starts with ext4
    metadata, much of it zero cells that cost no wire time at either level); this is.
    """
    rate = {}
    for level in (0, 1):
        r = migrate(disk, work, compress_level=level, checksum=False,
                    bandwidth_limit_kbps=LIMIT_KBPS)
        assert r.completed, "the limited whole-disk run did not finish"
        rate[level] = r.plan_done_bytes / r.elapsed_s
        print(f"limit {LIMIT_KBPS} KB/s, whole disk, compress={level}: {r.elapsed_s:6.1f} s, wire"
              f" {r.wire_bytes / r.elapsed_s / 1024:8.0f} KB/s"
              f" ({(r.wire_bytes / r.elapsed_s / (LIMIT_KBPS * 1024) - 1) * 100:+.1f} %), disk"
              f" {rate[level] / MIB:6.1f} MiB/s, wire {r.wire_bytes / MIB:6.0f} MiB,"
              f" load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"compress 1 vs 0 under the limit, whole disk: {rate[1] / rate[0]:.2f} x (target >= 2)")


if __name__ == "__main__":
    main()
