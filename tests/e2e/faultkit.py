"""Aim kill -9s at a job's phases (tests/e2e/test_fault_suite.py, test_build_faults.py).

A `Killer` owns a seeded `random.Random` and a list of `Kill`s (victim, phase observed just
before the signal, delay). The build phases are aimed with the test-only pause markers
("test pause at build step <step>", REHOST_TEST_BUILD_PAUSE) in a process log; the sync with
the job's durable progress; Preparing right after the job is created.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from diskfactory import BuiltDisk, _must_match_ranges, e2fsck_all
from e2e.harness import Agent, E2EError, Proc, Server, wait_for
from rehost.transit.buildstep import BUILD_STEPS

GIB = 1024**3
SEED_ENV = "REHOST_FAULT_SEED"


def suite_seed() -> int:
    """REHOST_FAULT_SEED when set (to replay a run), else a fresh seed (printed by the test)."""
    text = os.environ.get(SEED_ENV, "").strip()
    return int(text) if text else random.SystemRandom().randrange(1 << 31)


@dataclass(frozen=True)
class Victim:
    """A process the suite kills and restarts: the server, an agent or a transit host."""

    name: str
    proc: Proc
    restart: Callable[[], object]


@dataclass(frozen=True)
class Kill:
    """One kill -9: who, in which phase (and build step), how long after the aim point."""

    victim: str
    phase: str
    delay_s: float


@dataclass
class Killer:
    """Kills at seeded-random instants of one job and remembers where each landed."""

    server: Server
    job_id: str
    rng: random.Random
    kills: list[Kill] = field(default_factory=list)

    def phase(self) -> str:
        """The job's business status now (its status when it is not Running)."""
        doc = self.server.job(self.job_id)
        return str(doc["business_status"] or doc["status"]) if doc["status"] == "Running" \
            else str(doc["status"])

    def kill(self, victims: list[Victim], label: str, delay_s: float = 0.0) -> None:
        """Sleep delay_s, note the phase, kill -9 every victim, restart them (server first)."""
        time.sleep(delay_s)
        phase = self.phase()
        for victim in victims:
            if not victim.proc.alive:
                raise E2EError(f"{victim.name} died by itself\n{victim.proc.log_tail()}")
            victim.proc.kill()
        for victim in victims:
            victim.restart()
        where = f"{phase}/{label}" if label and label != phase else phase
        self.kills.extend(Kill(v.name, where, round(delay_s, 3)) for v in victims)

    def at_progress(self, victims: list[Victim], fraction: float) -> None:
        """Kill once the job's durable progress reaches fraction (while Syncing)."""
        self.server.wait_progress(self.job_id, fraction, timeout_s=90)
        self.kill(victims, "Syncing")

    def at_step(self, victims: list[Victim], log: Proc, step: str, seen: dict[str, int],
                delay_s: float, label: str) -> dict[str, int]:
        """Kill delay_s after the next pause marker of `step` in log; returns the new counts.

        A marker of a later step (the build got past `step` before) kills at once.
        """
        later = BUILD_STEPS[BUILD_STEPS.index(step):]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = markers(log)
            hit = next((s for s in later if now[s] > seen[s]), None)
            if hit is not None:
                self.kill(victims, label if hit == step else f"{hit} (late)",
                          delay_s if hit == step else 0.0)
                return now
            if self.server.job(self.job_id)["status"] != "Running":  # an earlier kill came
                print(f"no kill at {step}: the job left Running first")  # after the last step
                return now
            time.sleep(0.02)
        raise E2EError(f"no build pause at {step} within 120 s\n{log.log_tail()}")

    def per_phase(self) -> dict[str, int]:
        """How many kills landed in each phase (phase/step label)."""
        counts: dict[str, int] = {}
        for k in self.kills:
            counts[k.phase] = counts.get(k.phase, 0) + 1
        return counts


def start_agent(server: Server, agent: Agent) -> Agent:
    """Start the agent and wait for its first heartbeat (it starts slowly on a loaded host:
    a job created before it beats may see its source offline)."""
    before = server.client.get_source(agent.source_id)["heartbeat_time"]
    agent.start()
    wait_for(lambda: server.client.get_source(agent.source_id)["heartbeat_time"] != before,
             timeout_s=60, what="the agent's first heartbeat")
    return agent


def markers(log: Proc) -> dict[str, int]:
    """How often each build step's pause marker is in a process log."""
    text = log.log_path.read_text(errors="replace") if log.log_path.exists() else ""
    return {s: text.count(f"test pause at build step {s} ") for s in BUILD_STEPS}


def root_files(image: Path, start_bytes: int, out: Path) -> Path:
    """Every file of the ext filesystem at start_bytes of image, dumped into out."""
    out.mkdir(parents=True)
    subprocess.run(["debugfs", "-R", f"rdump / {out}", f"{image}?offset={start_bytes}"],
                   check=True, capture_output=True)
    return out


def assert_same_data(source: BuiltDisk, image: Path, tmp_path: Path, *,
                     size_bytes: int = 2 * GIB) -> None:
    """Clean filesystems; boot code, in-use bytes before the grown root and every root file
    as in the source (the root partition was grown, so its blocks moved)."""
    assert image.stat().st_size == size_bytes
    fsck = e2fsck_all(source, image)
    assert fsck and all(code == 0 for code, _out in fsck.values()), fsck
    root = source.partitions[-1]
    with source.path.open("rb") as a, image.open("rb") as b:
        assert a.read(446) == b.read(446)  # boot code (the table itself was grown)
        for lo, hi in _must_match_ranges(source):
            lo, hi = max(lo, 512), min(hi, root.start_bytes)
            if lo < hi:
                a.seek(lo)
                b.seek(lo)
                assert a.read(hi - lo) == b.read(hi - lo), (lo, hi)
    dumped = root_files(image, root.start_bytes, tmp_path / f"root-{image.parent.name}")
    for rel, data in root.files.items():
        assert (dumped / rel).read_bytes() == data, rel


def as_raw(image: Path, tmp_path: Path) -> Path:
    """The image disk as a raw file (qcow2 images are converted with qemu-img)."""
    if image.suffix != ".qcow2":
        return image
    subprocess.run(["qemu-img", "check", str(image)], check=True, capture_output=True)
    raw = tmp_path / f"{image.parent.name}-{image.stem}.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(image), str(raw)], check=True,
                   capture_output=True)
    return raw
