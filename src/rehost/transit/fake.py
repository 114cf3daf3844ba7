"""In-memory TransitControl for tests and benchmarks."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from rehost.transit.ports import DiskDigest, ReceiverProgress, TransitJobSpec


@dataclass
class FakeTransitControl:
    """Holds job specs by token and records every call the transit makes."""

    jobs: dict[str, TransitJobSpec] = field(default_factory=dict)
    progress: list[ReceiverProgress] = field(default_factory=list)
    done: dict[str, tuple[DiskDigest, ...]] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    plan_notes: list[tuple[str, str]] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)
    failed: threading.Event = field(default_factory=threading.Event)

    def add_job(self, token: str, spec: TransitJobSpec) -> None:
        """Make token valid for spec."""
        self.jobs[token] = spec

    def lookup(self, token: str) -> TransitJobSpec | None:
        """The spec registered for token."""
        return self.jobs.get(token)

    def report_progress(self, progress: ReceiverProgress) -> None:
        """Record progress."""
        self.progress.append(progress)

    def sync_done(self, job_id: str, digests: tuple[DiskDigest, ...]) -> None:
        """Record completion."""
        self.done[job_id] = digests
        self.finished.set()

    def log_plan(self, job_id: str, lines: list[str]) -> None:
        """Record send-plan notes."""
        self.plan_notes.extend((job_id, line) for line in lines)

    def sync_failed(self, job_id: str, code: str, message: str) -> None:
        """Record a failure."""
        self.failures.append((job_id, code, message))
        self.failed.set()
