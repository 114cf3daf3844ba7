"""The port between the transit and the control plane, and the values that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TransitDisk:
    """A disk the job migrates: source size (what the agent reads) and wanted target size."""

    index: int
    size_bytes: int
    target_size_bytes: int


@dataclass(frozen=True, slots=True)
class TransitJobSpec:
    """What the transit needs to accept a job's data connections."""

    job_id: str
    work_dir: Path
    disks: tuple[TransitDisk, ...]
    checksum: bool


@dataclass(frozen=True, slots=True)
class ReceivedDisk:
    """Durable progress of one disk, in bytes of the agent's send plan."""

    index: int
    done_bytes: int
    total_bytes: int


@dataclass(frozen=True, slots=True)
class ReceiverProgress:
    """Durable progress of a job and its recent write rate."""

    job_id: str
    disks: tuple[ReceivedDisk, ...]
    rate_bytes_per_s: float


@dataclass(frozen=True, slots=True)
class DiskDigest:
    """Whole-disk digest both ends agreed on (empty when checksum is off)."""

    index: int
    digest_hex: str
    pass_bytes: int = -1  # a delta pass (cycle ≥ 2): bytes of changed cells or blocks received


def plan_note_text(line: str) -> tuple[str, str]:
    """English and Chinese job log text of one agent send-plan note ("disk 0: partition 2 …")."""
    return f"Send plan: {line}", f"发送计划（整体复制或跳过的原因）：{line}"


class TransitControl(Protocol):
    """Implemented by the control plane; called from transit connection threads."""

    def lookup(self, token: str) -> TransitJobSpec | None:
        """The job whose data token this is, if it may send data now."""
        ...

    def report_progress(self, progress: ReceiverProgress) -> None:
        """Durable progress moved (called at most a few times per second per job)."""
        ...

    def sync_done(self, job_id: str, digests: tuple[DiskDigest, ...]) -> None:
        """Every disk of the job is durably written (and verified when checksum is on)."""
        ...

    def sync_failed(self, job_id: str, code: str, message: str) -> None:
        """The transit cannot continue the job (e.g. Transit.DiskFull)."""
        ...

    def log_plan(self, job_id: str, lines: list[str]) -> None:
        """Write the agent's send-plan notes (volumes copied whole, and why) to the job log."""
        ...
