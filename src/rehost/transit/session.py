"""One job on the transit: its target disks, journal, progress and statistics."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rehost import chunkdigest
from rehost.protocol.hello import DiskOffer, DiskResume, Hello, HelloOk
from rehost.transit.errors import TransitError, digest_mismatch
from rehost.transit.journal import ChunkRecord, DiskState, ProgressJournal
from rehost.transit.ports import (
    DiskDigest,
    ReceivedDisk,
    ReceiverProgress,
    TransitControl,
    TransitJobSpec,
)
from rehost.transit.target import TargetDisk
from rehost.wire import DELTA_VERSION, PATCH_VERSION, pack_base, zero_digest

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5
DECODABLE = ("zstd", "zlib")  # payload codecs the connection decodes
JOURNAL_FILE = "journal.bin"


def _agree_digest(hello: Hello) -> chunkdigest.ChunkDigest:
    """The chunk digest for this HELLO (an agent naming none uses xxh3-128)."""
    try:
        return chunkdigest.negotiate(hello.digests or [chunkdigest.LEGACY])
    except chunkdigest.DigestError as exc:
        raise TransitError(exc.code, exc.message) from exc


def accepted_codecs(hello: Hello) -> tuple[str, ...]:
    """The payload codecs of the agent's HELLO this transit decodes (besides raw and zero)."""
    if hello.codecs is None:
        return ("zstd",)  # an agent that names none compresses with zstd only
    return tuple(c for c in hello.codecs if c in DECODABLE)


def _plan_notes(disks: dict[int, DiskOffer]) -> list[str]:
    """The agent's send-plan notes of each disk, bounded (a hostile HELLO cannot flood the log)."""
    out: list[str] = []
    for index in sorted(disks):
        out.extend(f"disk {index}: {n[:300]}" for n in disks[index].plan_notes[:32])
    return out[:64]


@dataclass(frozen=True, slots=True)
class TransitStats:
    """What arrived for a job since the transit started (not durable; for tests and bench)."""

    received_bytes: int
    duplicate_bytes: int
    chunks: int


def _pass_bytes(state: DiskState) -> int:
    """Bytes of the non-zero cells this pass wrote (durable: read from the journal).

    A DATA_PATCH cell counts whole here: the journal records cells, not the blocks sent.
    """
    return sum(length for offset, (length, _plan) in state.chunks.items()
               if state.digests.get(offset, b"") not in (b"", zero_digest(length)))


def target_disk_path(work_dir: Path, index: int) -> Path:
    """Where the transit keeps target disk index of a job."""
    return work_dir / f"disk-{index}.raw"


class JobSession:
    """Shared by every connection of one job; all methods are thread-safe."""

    def __init__(
        self, spec: TransitJobSpec, control: TransitControl, clock: Callable[[], float]
    ) -> None:
        spec.work_dir.mkdir(parents=True, exist_ok=True)
        self.spec = spec
        self.control = control
        self.journal = ProgressJournal(spec.work_dir / JOURNAL_FILE)
        self.targets = {
            d.index: TargetDisk(target_disk_path(spec.work_dir, d.index), d.size_bytes)
            for d in spec.disks
        }
        self.chunk_bytes = 0
        self._plan_totals: dict[int, int] = {}
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: set[tuple[int, int]] = set()
        # cells received again in this session (a live copy's catch-up pass): zeros there
        # must be written, since the target may hold the cell's earlier data
        self._again: set[tuple[int, int]] = set()
        self._received = self._duplicates = self._chunks = 0
        # raw bytes received per disk in the pass this session started (patches: the blocks)
        self._pass_raw: dict[int, int] = {}
        self._counted_cycle = -1
        self._report_at = clock()
        self._report_bytes = 0
        self._failed = False
        self._plan_logged = False  # the agent's plan notes go to the job log once per session
        # (disk, cycle, digest) -> (the DiskState it was made from, base digests)
        self._rehashed: dict[tuple[int, int, str], tuple[DiskState, dict[int, bytes]]] = {}
        self.digest = chunkdigest.by_name(chunkdigest.LEGACY)  # agreed in HELLO

    def hello(self, hello: Hello) -> HelloOk:
        """Check the agent's disks against the job and return the resume state (HELLO_OK)."""
        disks = {d.index: d for d in hello.disks}
        if sorted(disks) != sorted(self.targets):
            raise TransitError("Transit.DiskMismatch", "the agent offers other disks than the job")
        for index, d in disks.items():
            if d.size_bytes != self.targets[index].size_bytes:
                raise TransitError("Transit.DiskMismatch", f"disk {index} changed size")
        version = min(hello.wire_version, PATCH_VERSION)
        algo = _agree_digest(hello)
        with self._lock:
            self.digest = algo
            if self.journal.digest_name != algo.name:
                log.info("job %s: chunk digest is now %s", self.spec.job_id, algo.name)
                self.journal.switch_digest(algo.name)
            self._failed = False  # a new attempt may fail (and be reported) again
            self.chunk_bytes = hello.chunk_bytes
            self._plan_totals = {i: d.plan_bytes for i, d in disks.items()}
            notes = [] if self._plan_logged else _plan_notes(disks)
            self._plan_logged = True
            cycle = hello.cycle if version >= DELTA_VERSION else 0
            if cycle > self.journal.cycle:
                log.info("job %s: incremental pass %d starts", self.spec.job_id, cycle)
                self.journal.start_pass(cycle)
                self._pass_raw, self._counted_cycle = {}, cycle
        if notes:
            self.control.log_plan(self.spec.job_id, notes)
        return HelloOk(job_id=self.spec.job_id, checksum=self.spec.checksum,
                       disks=tuple(self._disk_state(i, delta=cycle > 0) for i in sorted(disks)),
                       wire_version=version, cycle=self.journal.cycle if cycle else 0,
                       delta=bool(cycle) and self.overwrite, digest=algo.name,
                       codecs=accepted_codecs(hello))

    @property
    def overwrite(self) -> bool:
        """Whether the target holds an earlier pass (zeros must then be written, not skipped)."""
        return self.journal.cycle > 1

    def rewrites(self, disk: int, offset: int) -> bool:
        """Whether this cell arrived before in the session (old data may be there)."""
        with self._lock:
            return (disk, offset) in self._again

    def note_received(self, disk: int, offset: int, length: int, *, zero: bool = False) -> None:
        """Count an arriving chunk (re-sent chunks are counted as duplicates)."""
        with self._lock:
            key = (disk, offset)
            if key in self._seen:
                self._duplicates += length
                self._again.add(key)
            self._seen.add(key)
            self._pass_raw[disk] = self._pass_raw.get(disk, 0) + (0 if zero else length)
            self._received += length
            self._chunks += 1

    def target(self, disk: int) -> TargetDisk:
        """The target disk with that index."""
        found = self.targets.get(disk)
        if found is None:
            raise TransitError("Transit.BadChunk", f"disk {disk} is not part of the job")
        return found

    def commit(self, chunks: Sequence[ChunkRecord], verify: memoryview) -> list[ChunkRecord]:
        """Make chunks durable and journal them; returns the chunks that failed read-back."""
        for disk in {c.disk_index for c in chunks}:
            self.targets[disk].sync()
        bad = [c for c in chunks if self.spec.checksum and not self._reads_back(c, verify)]
        good = [c for c in chunks if c not in bad]
        if good:
            self.journal.append_chunks(good)
        self._maybe_report(sum(c.plan_bytes for c in good))
        return bad

    def finish_disk(self, index: int, agent_digest: bytes) -> bool:
        """Verify and mark a disk done; True when this completed the whole job."""
        state = self.journal.disk(index)
        planned = self._plan_totals.get(index, -1)
        if planned < 0:
            raise TransitError("Transit.Incomplete", f"disk {index} was never announced in HELLO")
        # The agent sends DISK_DONE only once every cell of its current plan is acknowledged
        # here. The byte counts may still differ: a plan can change between runs (a live ext
        # bitmap, or SEEK_DATA on an image file after unwritten extents convert), and cells
        # journaled under the old plan keep their old planned sizes.
        if state.done_bytes != planned:
            log.info("disk %d: journal has %d planned bytes, current plan %d", index,
                     state.done_bytes, planned)
        if self.spec.checksum:
            digest = self.target(index).disk_digest(self.chunk_bytes, self.digest)
            if digest != agent_digest:
                self.journal.reset_disk(index)
                raise digest_mismatch(f"disk {index}")
        self.journal.mark_disk_done(index, agent_digest if self.spec.checksum else b"")
        self._maybe_report(0, force=True)
        return self.maybe_sync_done()

    def maybe_sync_done(self) -> bool:
        """Tell the control plane when every disk is done (idempotent on its side)."""
        states = [self.journal.disk(i) for i in sorted(self.targets)]
        if any(s.done_digest is None for s in states):
            return False
        delta = self.journal.cycle > 1
        counted = self._counted_cycle == self.journal.cycle  # else the transit restarted
        digests = tuple(
            DiskDigest(i, (s.done_digest or b"").hex() if self.spec.checksum else "",
                       (self._pass_raw.get(i, 0) if counted else _pass_bytes(s))
                       if delta else -1)
            for i, s in zip(sorted(self.targets), states, strict=True)
        )
        self.control.sync_done(self.spec.job_id, digests)
        return True

    def fail(self, err: TransitError) -> None:
        """Report a job failure to the control plane once per session."""
        with self._lock:
            if self._failed:
                return
            self._failed = True
        self.control.sync_failed(self.spec.job_id, err.code, err.message)

    def stats(self) -> TransitStats:
        """Counters of received data."""
        with self._lock:
            return TransitStats(self._received, self._duplicates, self._chunks)

    def close(self) -> None:
        """Close files."""
        for t in self.targets.values():
            t.close()
        self.journal.close()

    def _disk_state(self, index: int, *, delta: bool = False) -> DiskResume:
        state = self.journal.disk(index)
        base = pack_base(self._base_digests(index), self.chunk_bytes) if delta else None
        return DiskResume(index, tuple(state.acked_ranges()), state.done_digest is not None,
                          state.done_bytes, base)

    def _base_digests(self, index: int) -> dict[int, bytes]:
        """The target's cells before this pass, in the agreed digest (re-read where another)."""
        key, state = (index, self.journal.cycle, self.digest.name), self.journal.disk(index)
        found = self._rehashed.get(key)
        if found is None or found[0] is not state:  # a reset disk is a new DiskState
            # once per pass and digest, not on every connection's HELLO
            found = self._rehashed[key] = (state, self._rehash_base(index))
        return found[1]

    def _rehash_base(self, index: int) -> dict[int, bytes]:
        state, out = self.journal.disk(index), {}
        buf = bytearray(self.chunk_bytes)
        for offset, (length, digest) in state.base.items():
            if state.base_names.get(offset) != self.digest.name:
                view = memoryview(buf)[: min(length, self.chunk_bytes)]
                n = self.targets[index].read_into(view, offset)
                digest = self.digest.digest(view[:n])
            out[offset] = digest
        return out

    def _reads_back(self, c: ChunkRecord, buf: memoryview) -> bool:
        n = self.targets[c.disk_index].read_into(buf[: c.length_bytes], c.offset_bytes)
        return n == c.length_bytes and self.digest.digest(buf[:n]) == c.digest

    def _maybe_report(self, committed_bytes: int, *, force: bool = False) -> None:
        with self._lock:
            self._report_bytes += committed_bytes
            now = self._clock()
            elapsed = now - self._report_at
            if not force and elapsed < PROGRESS_INTERVAL_S:
                return
            rate = self._report_bytes / elapsed if elapsed > 0 else 0.0
            self._report_at, self._report_bytes = now, 0
            disks = tuple(
                ReceivedDisk(i, self.journal.disk(i).done_bytes, self._plan_totals.get(i, 0))
                for i in sorted(self.targets)
            )
        self.control.report_progress(ReceiverProgress(self.spec.job_id, disks, rate))
