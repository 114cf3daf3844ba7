"""Durable append-only progress journal: which chunks are on disk, which disks are done."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rehost import chunkdigest

# kind, disk, offset, length, plan bytes, digest, crc32 of everything before it
RECORD = struct.Struct("!BxHQII16sI")
KIND_CHUNK = 1
KIND_DISK_DONE = 2
KIND_DISK_RESET = 3
KIND_PASS = 4  # a new pass (incremental cycle) starts; offset = its cycle number
KIND_DIGEST = 5  # the chunk digest changes (name in the digest field): unfinished disks restart


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A chunk whose data was fsynced before this record was written."""

    disk_index: int
    offset_bytes: int
    length_bytes: int
    plan_bytes: int
    digest: bytes


@dataclass
class DiskState:
    """What the journal says about one disk (this pass, and the target before it)."""

    chunks: dict[int, tuple[int, int]] = field(default_factory=dict)  # offset -> (len, plan)
    done_bytes: int = 0
    done_digest: bytes | None = None
    digests: dict[int, bytes] = field(default_factory=dict)  # offset -> digest (this pass)
    base: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # before: (len, digest)
    base_names: dict[int, str] = field(default_factory=dict)  # offset -> digest of base entry
    names: dict[int, str] = field(default_factory=dict)  # offset -> digest name (this pass)

    def add(self, offset: int, length: int, plan: int, digest: bytes = b"",
            digest_name: str = chunkdigest.LEGACY) -> None:
        """Record a durable chunk (idempotent) and the algorithm of its digest."""
        old = self.chunks.get(offset)
        if old is not None:
            self.done_bytes -= old[1]
        self.chunks[offset] = (length, plan)
        self.digests[offset] = digest
        self.names[offset] = digest_name
        self.done_bytes += plan

    def next_pass(self) -> None:
        """Fold this pass into the base (non-zero cells only) and start an empty pass."""
        for offset, (length, _plan) in self.chunks.items():
            digest = self.digests.get(offset, b"")
            name = self.names.get(offset, chunkdigest.LEGACY)
            if digest and digest != chunkdigest.by_name(name).zero(length):
                self.base[offset] = (length, digest)
                self.base_names[offset] = name
            else:
                self.base.pop(offset, None)
                self.base_names.pop(offset, None)
        self.chunks, self.digests, self.done_bytes, self.done_digest = {}, {}, 0, None
        self.names = {}

    def acked_ranges(self) -> list[tuple[int, int]]:
        """Durable byte ranges, merged, sorted."""
        out: list[list[int]] = []
        for offset in sorted(self.chunks):
            length = self.chunks[offset][0]
            if out and out[-1][0] + out[-1][1] >= offset:
                out[-1][1] = max(out[-1][1], offset + length - out[-1][0])
            else:
                out.append([offset, length])
        return [(a, b) for a, b in out]


class ProgressJournal:
    """Fixed-size CRC-protected records; a torn tail is cut off when the journal is opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.disks: dict[int, DiskState] = {}
        self.cycle = 1  # the pass the journal records now (1 until an incremental cycle)
        self.digest_name = chunkdigest.LEGACY  # the digest of this pass's chunk records
        self._lock = threading.Lock()
        valid = self._load()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.ftruncate(self._fd, valid)

    def disk(self, index: int) -> DiskState:
        """State of one disk (created empty on first use)."""
        return self.disks.setdefault(index, DiskState())

    def append_chunks(self, chunks: Sequence[ChunkRecord]) -> None:
        """Write and fsync records for chunks whose data is already durable."""
        data = b"".join(
            _pack(KIND_CHUNK, c.disk_index, c.offset_bytes, c.length_bytes, c.plan_bytes, c.digest)
            for c in chunks
        )
        with self._lock:
            self._write(data)
            for c in chunks:
                self.disk(c.disk_index).add(c.offset_bytes, c.length_bytes, c.plan_bytes,
                                            c.digest, self.digest_name)

    def mark_disk_done(self, index: int, digest: bytes) -> None:
        """Durably record that a disk is complete (and verified when digest is not empty)."""
        with self._lock:
            self._write(_pack(KIND_DISK_DONE, index, 0, 0, 0, digest.ljust(16, b"\0")))
            self.disk(index).done_digest = digest.ljust(16, b"\0")

    def start_pass(self, cycle: int) -> None:
        """Durably start pass `cycle`: every disk's chunks become its base."""
        with self._lock:
            self._write(_pack(KIND_PASS, 0, cycle, 0, 0, bytes(16)))
            self._apply_pass(cycle)

    def _apply_pass(self, cycle: int) -> None:
        self.cycle = cycle
        for state in self.disks.values():
            state.next_pass()

    def switch_digest(self, name: str) -> None:
        """Durably change the chunk digest; unfinished disks forget their chunks (re-sent)."""
        with self._lock:
            self._write(_pack(KIND_DIGEST, 0, 0, 0, 0, name.encode().ljust(16, b"\0")))
            self._apply_digest(name)

    def _apply_digest(self, name: str) -> None:
        # acked chunks carry digests of the old algorithm: their resume state is not trusted;
        # a finished disk was verified whole and stays done; the base is rehashed on use
        self.digest_name = name
        for index, state in list(self.disks.items()):
            if state.done_digest is None:
                self.disks[index] = DiskState(base=state.base, base_names=state.base_names)

    def reset_disk(self, index: int) -> None:
        """Durably forget everything about a disk (its data failed verification)."""
        with self._lock:
            self._write(_pack(KIND_DISK_RESET, index, 0, 0, 0, bytes(16)))
            self.disks[index] = DiskState()

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fdatasync(self._fd)

    def _load(self) -> int:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        valid = 0
        for start in range(0, len(raw) - RECORD.size + 1, RECORD.size):
            kind, disk, offset, length, plan, digest, crc = RECORD.unpack_from(raw, start)
            if zlib.crc32(raw[start : start + RECORD.size - 4]) != crc:
                break
            if kind == KIND_CHUNK:
                self.disk(disk).add(offset, length, plan, digest, self.digest_name)
            elif kind == KIND_PASS:
                self._apply_pass(offset)
            elif kind == KIND_DISK_DONE:
                self.disk(disk).done_digest = digest
            elif kind == KIND_DISK_RESET:
                self.disks[disk] = DiskState()
            elif kind == KIND_DIGEST:
                self._apply_digest(digest.rstrip(b"\0").decode("ascii", "replace"))
            valid = start + RECORD.size
        return valid


def _pack(kind: int, disk: int, offset: int, length: int, plan: int, digest: bytes) -> bytes:
    body = RECORD.pack(kind, disk, offset, length, plan, digest, 0)[:-4]
    return body + struct.pack("!I", zlib.crc32(body))
