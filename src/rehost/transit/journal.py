"""Durable append-only progress journal: which chunks are on disk, which disks are done."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rehost.wire import zero_digest

# kind, disk, offset, length, plan bytes, digest, crc32 of everything before it
RECORD = struct.Struct("!BxHQII16sI")
KIND_CHUNK = 1
KIND_DISK_DONE = 2
KIND_DISK_RESET = 3
KIND_PASS = 4  # a new pass (incremental cycle) starts; offset = its cycle number


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

    def add(self, offset: int, length: int, plan: int, digest: bytes = b"") -> None:
        """Record a durable chunk (idempotent)."""
        old = self.chunks.get(offset)
        if old is not None:
            self.done_bytes -= old[1]
        self.chunks[offset] = (length, plan)
        self.digests[offset] = digest
        self.done_bytes += plan

    def next_pass(self) -> None:
        """Fold this pass into the base (non-zero cells only) and start an empty pass."""
        for offset, (length, _plan) in self.chunks.items():
            digest = self.digests.get(offset, b"")
            if digest and digest != zero_digest(length):
                self.base[offset] = (length, digest)
            else:
                self.base.pop(offset, None)
        self.chunks, self.digests, self.done_bytes, self.done_digest = {}, {}, 0, None

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
                                            c.digest)

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
                self.disk(disk).add(offset, length, plan, digest)
            elif kind == KIND_PASS:
                self._apply_pass(offset)
            elif kind == KIND_DISK_DONE:
                self.disk(disk).done_digest = digest
            elif kind == KIND_DISK_RESET:
                self.disks[disk] = DiskState()
            valid = start + RECORD.size
        return valid


def _pack(kind: int, disk: int, offset: int, length: int, plan: int, digest: bytes) -> bytes:
    body = RECORD.pack(kind, disk, offset, length, plan, digest, 0)[:-4]
    return body + struct.pack("!I", zlib.crc32(body))
