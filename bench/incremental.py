"""An incremental cycle through the real processes against rsync's delta transfer.

Every round copies the reference disk (the source), starts a server and an agent and runs an
incremental job at compression 1 whose first cycle sends the disk (untimed). Then 2 % of the
disk's bytes change in scattered 4 KiB writes inside the data rehost sends (the ext4's used
blocks: what the agent plans; new bytes compress about 2.5 x with zstd-1), and, in rotating
order from a cold cache:

- rehost: `rehost job start` (the next cycle) until the job is Waiting again with that cycle's
  image published; wire bytes are the agent's own counter (its "bytes on the wire" log line),
  re-sent bytes the transit's (`Transit.DeltaSent`);
- rsync: `rsync --inplace --no-whole-file` of the changed disk onto a copy of the old one, to
  an rsync daemon on loopback, until fsync (bench.anchors.rsync_delta).

    python -m bench.incremental --rounds 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import anchors, e2e, tools
from bench.e2e_procs import ControlPlane, drop_caches
from bench.refdisk import reference_disk
from rehost.agent.reader import default_planner
from rehost.client import RehostClient

MIB = 1024 * 1024
BLOCK = 4096
CHANGE_SHARE = 0.02
WIRE_LIMIT = 40 * MIB  # issue 13: at most this on the wire for the 2 % cycle at compression 1
TIME_RATIO = 0.3  # and at most this share of rsync's delta time, end to end
LINE = b"%08d the quick brown fox jumps over the lazy dog; rehost delta bench line\n"


@dataclass(frozen=True)
class CycleRun:
    """One incremental cycle: wall time, its phases, agent wire bytes, transit re-sent bytes."""

    total_s: float
    phases: dict[str, float]
    wire_bytes: int
    resent_bytes: int


def new_block(rng: random.Random) -> bytes:
    """4 KiB of new data: a third random, the rest numbered text lines (zstd-1: ~2.5 x)."""
    text = b"".join(LINE % rng.randrange(10**8) for _ in range(40))
    return (rng.randbytes(BLOCK // 3) + text)[:BLOCK]


def change_disk(disk: Path, *, seed: int) -> int:
    """Overwrite 2 % of the disk's size in random 4 KiB blocks of its planned data; bytes."""
    rng = random.Random(seed)
    blocks: list[int] = []
    for ext in default_planner(str(disk)):
        first = -(-ext.offset_bytes // BLOCK)
        blocks.extend(range(first, (ext.offset_bytes + ext.length_bytes) // BLOCK))
    count = int(disk.stat().st_size * CHANGE_SHARE) // BLOCK
    with disk.open("r+b") as f:
        for block in sorted(rng.sample(blocks, count)):
            f.seek(block * BLOCK)
            f.write(new_block(rng))
        os.fsync(f.fileno())
    return count * BLOCK


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "--sparse=always", "--reflink=auto", str(src), str(dst)], check=True)


class Round:
    """One source copy, its control plane and job after cycle 1, and rsync's old copy."""

    def __init__(self, reference: Path, work: Path, *, seed: int) -> None:
        shutil.rmtree(work, ignore_errors=True)
        self.source = work / "source.img"
        _copy(reference, self.source)
        self.plane = ControlPlane(work / "plane").start()
        self.rsync_base = work / "rsync"
        creds = self.plane.cli_env
        self.client = RehostClient(self.plane.endpoint, creds["REHOST_ACCESS_KEY_ID"],
                                   creds["REHOST_ACCESS_KEY_SECRET"])
        job = self.plane.cli("job", "create", "--source", self.plane.add_agent(self.source),
                             "--region", "local", "--mode", "immediate", "--incremental",
                             "--frequency", "24", "--max-images", "1", "--compress-level", "1")
        self.job_id = str(job["job_id"])
        self._wait_cycle(1)
        self.changed_bytes = change_disk(self.source, seed=seed)

    def rehost(self) -> CycleRun:
        """Cycle 2 from `rehost job start` until Waiting with its image, cold cache."""
        drop_caches()
        started = time.time()
        self.plane.cli("job", "start", self.job_id)
        self._wait_cycle(2)
        ended = time.time()
        events = [e for e in self.plane.cli("job", "logs", self.job_id)["events"]
                  if _when(e) >= started - 1]
        return CycleRun(ended - started, e2e._phases(events, started, ended),
                        self._agent_wire_bytes(), _resent(events))

    def rsync(self) -> tuple[float, int]:
        """rsync's delta of the changed source onto a copy of the unchanged reference."""
        with tools.rsync_daemon(self.rsync_base) as (url, dest):
            return anchors.rsync_delta(self.source, dest / self.source.name, url)

    def prepare_rsync(self, reference: Path) -> None:
        """The old copy rsync updates (untimed)."""
        _copy(reference, self.rsync_base / "dest" / self.source.name)

    def close(self) -> None:
        """Stop the processes and remove the round's files."""
        self.client.close()
        self.plane.close()
        shutil.rmtree(self.source.parent, ignore_errors=True)

    def _wait_cycle(self, cycle: int, timeout_s: float = 1200) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            doc = self.client.get_job(self.job_id)
            if doc["status"] == "Waiting" and doc["cycle"] == cycle:
                return
            if doc["status"] in ("InError", "Finished", "Expired"):
                raise RuntimeError(f"job ended {doc['status']}: {doc.get('error_code')}")
            time.sleep(0.1)
        raise RuntimeError(f"cycle {cycle} did not end within {timeout_s} s")

    def _agent_wire_bytes(self) -> int:
        text = (self.plane.work / "agent-0.log").read_text(errors="replace")
        found = re.findall(r"all disks sent \((\d+) bytes on the wire\)", text)
        return int(found[-1]) if found else -1


def _when(event: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()


def _resent(events: Sequence[dict[str, Any]]) -> int:
    for event in events:
        found = re.search(r": (\d+) bytes re-sent", str(event.get("message", "")))
        if event.get("code") == "Transit.DeltaSent" and found:
            return int(found.group(1))
    return -1


def run(reference: Path, work: Path, rounds: int) -> tuple[list[CycleRun], list[tuple[float, int]]]:
    """Rounds of (rehost cycle, rsync delta) in rotating order; returns both lists."""
    cycles: list[CycleRun] = []
    deltas: list[tuple[float, int]] = []
    for rnd in range(rounds):
        r = Round(reference, work, seed=rnd)
        try:
            r.prepare_rsync(reference)
            if rnd % 2:
                deltas.append(r.rsync())
                cycles.append(r.rehost())
            else:
                cycles.append(r.rehost())
                deltas.append(r.rsync())
        finally:
            r.close()
        print(f"incremental round {rnd + 1}/{rounds}: rehost {cycles[-1].total_s:.2f} s "
              f"{cycles[-1].wire_bytes / MIB:.1f} MiB, rsync {deltas[-1][0]:.2f} s "
              f"{deltas[-1][1] / MIB:.1f} MiB; load average {os.getloadavg()[0]:.1f}",
              flush=True)
    return cycles, deltas


def report(cycles: Sequence[CycleRun], deltas: Sequence[tuple[float, int]],
           changed_bytes: int) -> None:
    """Medians and the issue's targets."""
    total = statistics.median(c.total_s for c in cycles)
    wire = statistics.median(c.wire_bytes for c in cycles)
    resent = statistics.median(c.resent_bytes for c in cycles)
    rsync_s = statistics.median(d[0] for d in deltas)
    rsync_bytes = statistics.median(d[1] for d in deltas)
    phases = {p: statistics.median(c.phases[p] for c in cycles) for p in e2e.PHASES}
    print(f"2 % change: {changed_bytes / MIB:.1f} MiB in 4 KiB blocks; medians of {len(cycles)}")
    print(f"rehost cycle c1   {total:6.2f} s  wire {wire / MIB:6.1f} MiB  re-sent "
          f"{resent / MIB:6.1f} MiB  " + "  ".join(f"{p} {phases[p]:5.2f}" for p in e2e.PHASES))
    print(f"rsync delta       {rsync_s:6.2f} s  sent {rsync_bytes / MIB:6.1f} MiB")
    print(f"    wire {wire / MIB:.1f} MiB (target <= {WIRE_LIMIT // MIB}): "
          f"{'ok' if wire <= WIRE_LIMIT else 'MISSED'}; {wire / rsync_bytes:.2f} x rsync's bytes")
    print(f"    end to end {total / rsync_s:.2f} x rsync's delta time (target <= {TIME_RATIO}): "
          f"{'ok' if total <= TIME_RATIO * rsync_s else 'MISSED'}; data phase "
          f"{phases['data'] / rsync_s:.2f} x")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the incremental phase for --rounds rounds and print the medians."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("REHOST_BENCH_DIR", "/tmp/rehost-bench")))
    ap.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1 / --rounds 至少为 1")
    reference = reference_disk(args.cache)
    cold = drop_caches()
    print(f"incremental cycle on {reference} ({reference.stat().st_size // MIB} MiB); cold "
          f"cache: {'yes' if cold else 'NO (not root)'}; load average {os.getloadavg()[0]:.1f}")
    cycles, deltas = run(reference, args.cache / "incremental-work", args.rounds)
    report(cycles, deltas, int(reference.stat().st_size * CHANGE_SHARE) // BLOCK * BLOCK)


if __name__ == "__main__":
    main()
