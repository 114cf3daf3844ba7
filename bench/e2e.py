"""What a user waits for: `rehost job create --mode immediate` until `rehost job wait` returns.

Every round runs rehost at each compression level and every anchor (bench.anchors) on the
reference disk, interleaved and in a rotating order, from a cold page cache (dropped before
every run when the bench runs as root; it says so when it cannot). Medians over the rounds and
ratios of medians are printed in the same run, phase by phase from the job's own log:

- pickup: `rehost job create` started -> the agent started sending (first Syncing event);
  it includes the CLI's own start-up;
- data: first Syncing event -> the transit reported every disk received (Processing began);
- processing: Processing began -> the image was published;
- finish: published -> `rehost job wait` returned Finished.

    python -m bench.e2e --rounds 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import anchors
from bench.e2e_procs import ControlPlane, drop_caches
from bench.refdisk import reference_disk

MIB = 1024 * 1024
PHASES = ("pickup", "data", "processing", "finish")


@dataclass(frozen=True)
class RehostRun:
    """One migration through the real processes."""

    total_s: float
    phases: dict[str, float]
    wire_bytes: int


def rehost_run(disk: Path, work: Path, *, compress_level: int) -> RehostRun:
    """Server + agent up (untimed), cold cache, then create -> Finished through the CLI."""
    plane = ControlPlane(work).start()
    try:
        source = plane.add_agent(disk)
        drop_caches()
        started = time.time()
        job = plane.cli("job", "create", "--source", source, "--region", "local",
                        "--mode", "immediate", "--compress-level", str(compress_level))
        done = plane.cli("job", "wait", str(job["job_id"]), "--interval", "0.1",
                         "--timeout", "900")
        ended = time.time()
        if done["status"] != "Finished":
            raise RuntimeError(f"job ended {done['status']}: {done.get('error_code')}")
        events = plane.cli("job", "logs", str(job["job_id"]))["events"]
        return RehostRun(ended - started, _phases(events, started, ended),
                         int(done.get("wire_bytes") or 0))
    finally:
        plane.close()


def _phases(events: Sequence[dict[str, Any]], started: float, ended: float) -> dict[str, float]:
    """Phase durations from the job log's first event of each business status."""
    marks = {"data": _first(events, ("Syncing", "Agent.SendPlan")),
             "processing": _first(events, ("Processing",)),
             "published": _first(events, ("Image.Published", "Image.Created", "Cleaning"))}
    data = marks["data"] or started
    processing = marks["processing"] or data
    published = marks["published"] or ended
    return {"pickup": data - started, "data": processing - data,
            "processing": published - processing, "finish": ended - published}


def _first(events: Sequence[dict[str, Any]], needles: Sequence[str]) -> float | None:
    for event in events:
        text = f"{event.get('code', '')} {event.get('message', '')}"
        if any(needle in text for needle in needles):
            return dt.datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()
    return None


def main(argv: Sequence[str] | None = None) -> None:
    """Interleave rehost and the anchors for --rounds rounds; print medians and ratios."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("REHOST_BENCH_DIR", "/tmp/rehost-bench")))
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--levels", default="0,1", help="rehost compression levels to run")
    args = ap.parse_args(argv)
    disk = reference_disk(args.cache)
    cold = drop_caches()
    print(f"reference disk {disk} ({disk.stat().st_size // MIB} MiB); "
          f"cold cache: {'yes, dropped before every run' if cold else 'NO (not root)'}; "
          f"load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds")
    runs = _runs(disk, args.cache / "e2e-work", [int(x) for x in args.levels.split(",")])
    results: dict[str, list[Any]] = {name: [] for name in runs}
    for rnd in range(args.rounds):
        order = list(runs)[rnd % len(runs):] + list(runs)[: rnd % len(runs)]
        for name in order:
            results[name].append(runs[name]())
        print(f"round {rnd + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.1f}",
              flush=True)
    report(results)


def _runs(disk: Path, work: Path, levels: Sequence[int]) -> dict[str, Callable[[], Any]]:
    runs: dict[str, Callable[[], Any]] = {
        f"rehost c{level}": (lambda lv=level: rehost_run(disk, work, compress_level=lv))
        for level in levels}
    for name, anchor in anchors.ANCHORS.items():
        runs[name] = lambda a=anchor: a(disk, work)
    return runs


def report(results: dict[str, list[Any]]) -> None:
    """Medians, phases and the ratios of medians against every anchor."""
    anchor_median = {name: statistics.median(times) for name, times in results.items()
                     if name in anchors.ANCHORS}
    for name, times in anchor_median.items():
        print(f"{name:24s} median {times:6.2f} s")
    for name, runs in results.items():
        if name in anchors.ANCHORS:
            continue
        total = statistics.median(r.total_s for r in runs)
        phases = {p: statistics.median(r.phases[p] for r in runs) for p in PHASES}
        print(f"{name:24s} median {total:6.2f} s  " + "  ".join(
            f"{p} {phases[p]:5.2f}" for p in PHASES))
        for anchor, median in anchor_median.items():
            print(f"    / {anchor:22s} end to end {total / median:5.2f}   "
                  f"data phase {phases['data'] / median:5.2f}")


if __name__ == "__main__":
    main()
