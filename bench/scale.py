"""Scale: 1, 4 and 10 concurrent 512 MiB jobs, and job create latency with 1,000 jobs stored.

Concurrent jobs run through the real processes (one `rehost server`, one `rehost agent run`
per source disk, the CLI): the jobs are created, the page cache is dropped, and all of them
are started by one `rehost job start` call. The aggregate data-phase throughput is the disk
bytes the jobs made durable (their `bytes_done`) over the span from the first job's first
Syncing event to the last job's Processing event. Target: 10 jobs at once reach at least the
single job's throughput, and none fails.

Job create latency: a `rehost server` holding 1,200 imported sources and 1,000 jobs (10 of
them started) answers 200 more `POST /api/v1/jobs`, one at a time; p50 and p99 are printed
(target p99 < 100 ms), on SQLite and, when REHOST_TEST_DATABASE_URL (or
REHOST_BENCH_DATABASE_URL) names a PostgreSQL server, on a fresh database there.

    python -m bench.scale [--jobs 1,4,10] [--rounds 3] [--receivers 1,auto] [--skip-create]

`--receivers` interleaves runs of `rehost server` with each REHOST_RECEIVERS setting (1: the
server process receives; auto: one receiver process per core, up to 4).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import control_plane
from bench.e2e import _first
from bench.e2e_procs import ControlPlane, drop_caches
from bench.refdisk import sample_disk

MIB = 1024 * 1024
JOB_DISK_BYTES = 512 * MIB
STORED_JOBS, SPARE_SOURCES, TIMED_CREATES = 1000, 200, 200


@dataclass(frozen=True)
class Concurrent:
    """One run of n jobs started together."""

    jobs: int
    span_s: float  # first Syncing -> last Processing
    total_s: float  # start -> last Finished
    bytes_done: int
    failed: int

    @property
    def throughput(self) -> float:
        """Disk bytes made durable per second of the aggregate data phase."""
        return self.bytes_done / self.span_s if self.span_s > 0 else 0.0


def concurrent_run(disks: Sequence[Path], work: Path, receivers: str = "auto") -> Concurrent:
    """Create one job per disk, drop caches, start them all at once, wait for every one."""
    plane = ControlPlane(work, env={"REHOST_RECEIVERS": receivers}).start()
    try:
        sources = [plane.add_agent(disk) for disk in disks]
        jobs = [str(plane.cli("job", "create", "--source", s, "--region", "local",
                              "--compress-level", "1")["job_id"]) for s in sources]
        drop_caches()
        started = time.time()
        plane.cli("job", "start", *jobs)
        docs = [plane.cli("job", "wait", j, "--interval", "0.2", "--timeout", "1800")
                for j in jobs]
        ended = time.time()
        events = [plane.cli("job", "logs", j)["events"] for j in jobs]
        return _concurrent(docs, events, started, ended)
    finally:
        plane.close()


def _concurrent(docs: list[dict[str, Any]], events: list[list[dict[str, Any]]],
                started: float, ended: float) -> Concurrent:
    syncing = [t for ev in events if (t := _first(ev, ("Syncing", "Agent.SendPlan")))]
    processing = [t for ev in events if (t := _first(ev, ("Processing",)))]
    span = (max(processing) - min(syncing)) if syncing and processing else 0.0
    failed = sum(1 for d in docs if d["status"] != "Finished")
    return Concurrent(len(docs), span, ended - started,
                      sum(int(d["bytes_done"]) for d in docs), failed)


def concurrency_report(cache: Path, counts: Sequence[int], rounds: int,
                       receivers: Sequence[str] = ("auto",)) -> bool:
    """Run every (receivers, count) `rounds` times, interleaved; medians and ratios to one job."""
    disks = [sample_disk(cache / f"scale-{i}.img", JOB_DISK_BYTES, seed=100 + i)
             for i in range(max(counts))]
    cold = drop_caches()
    print(f"{len(disks)} disks of {JOB_DISK_BYTES // MIB} MiB (ext4, 30 % used, stale free "
          f"space); compression 1; receiver processes: {', '.join(receivers)} (auto: one per "
          f"core up to 4; {os.cpu_count()} cores); cold cache: "
          f"{'yes' if cold else 'NO (not root)'}; load average {os.getloadavg()[0]:.1f}; "
          f"{rounds} rounds")
    runs = [(r, n) for r in receivers for n in counts]
    results: dict[tuple[str, int], list[Concurrent]] = {run: [] for run in runs}
    for rnd in range(rounds):
        for run in runs[rnd % len(runs):] + runs[: rnd % len(runs)]:
            results[run].append(concurrent_run(disks[:run[1]], cache / "scale-work", run[0]))
    ok = True
    for setting in receivers:
        ok &= _print_medians(setting, {n: results[(setting, n)] for n in counts})
    print(f"concurrent jobs: {'OK' if ok else 'BELOW'} target (aggregate >= one job's, no failure)")
    return ok


def _print_medians(receivers: str, results: dict[int, list[Concurrent]]) -> bool:
    base = statistics.median(r.throughput for r in results[min(results)])
    ok = True
    for n, rs in results.items():
        rate = statistics.median(r.throughput for r in rs)
        failed = sum(r.failed for r in rs)
        ok &= failed == 0 and (n == min(results) or rate >= base)
        print(f"receivers {receivers}: {n:2d} job(s) at once: data phase "
              f"{statistics.median(r.span_s for r in rs):6.2f} s, start -> all Finished "
              f"{statistics.median(r.total_s for r in rs):6.2f} s, aggregate {rate / MIB:6.1f} "
              f"MiB/s ({rate / base:4.2f} x one job), {failed} failed")
    return ok


def create_latency(name: str, url: str) -> bool:
    """p50/p99 of POST /api/v1/jobs on a server already holding 1,000 jobs."""
    with control_plane.server(url) as t:
        _, job_ids = control_plane.populate(t, STORED_JOBS + SPARE_SOURCES, STORED_JOBS)
        with httpx.Client(base_url=t.base, auth=t.auth, timeout=30) as c:
            sources = [s["source_id"] for s in _all_sources(c)]
            busy = {j["source_id"] for j in _all_jobs(c)}
            spare = [s for s in sources if s not in busy][:TIMED_CREATES]
            times = []
            for i, source in enumerate(spare):
                t0 = time.perf_counter()
                r = c.post("/api/v1/jobs", json={"source_id": source, "name": f"timed-{i}"})
                times.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
    times.sort()
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99) - 1]
    print(f"{name}: {len(job_ids)} jobs stored, {len(times)} job creates one at a time: "
          f"p50 {p50:5.1f} ms, p99 {p99:5.1f} ms -> "
          f"{'OK' if p99 < 100 else 'ABOVE'} target p99 < 100 ms")
    return p99 < 100


def _all_sources(c: httpx.Client) -> list[dict[str, Any]]:
    return _pages(c, "/api/v1/sources", "sources")


def _all_jobs(c: httpx.Client) -> list[dict[str, Any]]:
    return _pages(c, "/api/v1/jobs", "jobs")


def _pages(c: httpx.Client, path: str, key: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        r = c.get(path, params={"page_number": page, "page_size": 50})
        r.raise_for_status()
        items = r.json()[key]
        found += items
        if len(items) < 50:
            return found
        page += 1


def create_report() -> bool:
    """The create latency on SQLite and, when one is named, PostgreSQL."""
    ok = create_latency("SQLite", "")
    pg = os.environ.get("REHOST_BENCH_DATABASE_URL") or os.environ.get("REHOST_TEST_DATABASE_URL")
    if not pg:
        print("PostgreSQL: skipped (set REHOST_TEST_DATABASE_URL; "
              "bash scripts/start-postgres.sh prints one)")
        return ok
    with control_plane.fresh_pg_database(pg) as url:
        return create_latency("PostgreSQL", url) and ok


def main(argv: Sequence[str] | None = None) -> None:
    """Concurrent jobs, then the create latency."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("REHOST_BENCH_DIR", "/tmp/rehost-bench")))
    ap.add_argument("--jobs", default="1,4,10", help="concurrent job counts (default 1,4,10)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--receivers", default="auto",
                    help="receiver process settings to interleave, e.g. 1,auto (default auto)")
    ap.add_argument("--skip-create", action="store_true", help="skip the create latency")
    ap.add_argument("--skip-concurrent", action="store_true", help="skip the concurrent jobs")
    args = ap.parse_args(argv)
    if not args.skip_concurrent:
        concurrency_report(args.cache, sorted({int(x) for x in args.jobs.split(",")}),
                           args.rounds, [r.strip() for r in args.receivers.split(",")])
    if not args.skip_create:
        create_report()


if __name__ == "__main__":
    main()
