"""Disk writer thread of one transit data connection: writes staged chunks, group-commits them.

The connection thread decrypts and checks the next chunk while this thread writes the previous
one (O_DIRECT pwrite and fdatasync release the GIL), so the socket keeps draining during disk
IO. Only the connection thread touches the TLS socket; this thread hands back commit results
and wakes it through a pipe.
"""

from __future__ import annotations

import collections
import contextlib
import mmap
import os
import queue
import threading
import time
from dataclasses import dataclass, field

from rehost import wire
from rehost.transit.errors import TransitError
from rehost.transit.journal import ChunkRecord
from rehost.transit.session import JobSession

# a group commit (fsync data, then journal, then ACK) happens when the input goes idle, or
# after this many chunks/bytes/seconds; half the agent's default per-connection window, so
# the agent keeps sending the other half while a batch is being made durable
COMMIT_MAX_CHUNKS = 4
COMMIT_MAX_BYTES = 16 * 1024 * 1024
COMMIT_MAX_DELAY_S = 0.25
STAGE_BUFFERS = 3
BUFFER_WAIT_S = 0.5


@dataclass(frozen=True, slots=True)
class StagedChunk:
    """A verified chunk; data is the whole cell (in buffer, None for an all-zero chunk).

    patched: only these (start, length) pieces of the cell changed (DATA_PATCH): only they are
    written, so the rest of the cell keeps its extents (shared with a reflinked image).
    """

    record: ChunkRecord
    data: memoryview
    buffer: memoryview | None
    patched: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True, slots=True)
class Committed:
    """The outcome of one group commit: durable chunks, and chunks that failed read-back."""

    good: list[ChunkRecord]
    bad: list[ChunkRecord]


@dataclass(frozen=True, slots=True)
class _Commit:
    """Marker: commit what is pending now; done is set afterwards."""

    done: threading.Event = field(default_factory=threading.Event)


class ChunkWriter:
    """Owns the stage buffers and the writer thread of one connection."""

    def __init__(self, session: JobSession) -> None:
        self._session = session
        self._maps = [mmap.mmap(-1, wire.MAX_RAW_BYTES) for _ in range(STAGE_BUFFERS + 1)]
        self._views = [memoryview(m) for m in self._maps]
        self._verify = self._views[-1]
        self._free: queue.Queue[memoryview] = queue.Queue()
        for view in self._views[:-1]:
            self._free.put(view)
        self._in: queue.Queue[StagedChunk | _Commit | None] = queue.Queue()
        self._results: collections.deque[Committed] = collections.deque()
        self.error: Exception | None = None
        self.wake_r, self._wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name="transit-writer", daemon=True)
        self._thread.start()

    def stage_buffer(self) -> memoryview:
        """A free page-aligned stage buffer (waits while the writer is behind)."""
        while True:
            self.raise_error()
            try:
                return self._free.get(timeout=BUFFER_WAIT_S)
            except queue.Empty:
                continue

    def give_back(self, buffer: memoryview) -> None:
        """Return a stage buffer that was not submitted."""
        self._free.put(buffer)

    def submit(self, chunk: StagedChunk) -> None:
        """Queue a chunk for writing."""
        self._in.put(chunk)

    def commit_soon(self) -> None:
        """Commit what is pending (the input went idle); does not wait."""
        self._in.put(_Commit())

    def flush(self) -> None:
        """Commit everything submitted so far and wait for it."""
        marker = _Commit()
        self._in.put(marker)
        while not marker.done.wait(BUFFER_WAIT_S):
            self.raise_error()
        self.raise_error()

    def results(self) -> list[Committed]:
        """Commit outcomes not yet collected (drains the wake pipe)."""
        with contextlib.suppress(BlockingIOError):
            os.read(self.wake_r, 4096)
        out: list[Committed] = []
        while self._results:
            out.append(self._results.popleft())
        return out

    def raise_error(self) -> None:
        """Re-raise the writer thread's failure in the calling thread."""
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the thread (uncommitted chunks are dropped: they were never ACKed)."""
        self._in.put(None)
        self._thread.join(timeout=30)
        for fd in (self.wake_r, self._wake_w):
            os.close(fd)
        self.error = None  # its traceback may hold slices of the stage buffers
        for view, buf in zip(self._views, self._maps, strict=True):
            # a slice still held elsewhere keeps its buffer; the GC unmaps it later
            with contextlib.suppress(BufferError):
                view.release()
                buf.close()

    def _run(self) -> None:
        pending: list[ChunkRecord] = []
        pending_bytes, since = 0, 0.0
        try:
            while True:
                timeout = max(0.0, since + COMMIT_MAX_DELAY_S - time.monotonic())
                try:
                    item = self._in.get(timeout=timeout if pending else None)
                except queue.Empty:
                    item = _Commit()
                if item is None:
                    return
                if isinstance(item, _Commit):
                    self._commit(pending)
                    pending, pending_bytes = [], 0
                    item.done.set()
                    continue
                self._write(item)
                if not pending:
                    since = time.monotonic()
                pending.append(item.record)
                pending_bytes += item.record.length_bytes
                if len(pending) >= COMMIT_MAX_CHUNKS or pending_bytes >= COMMIT_MAX_BYTES:
                    self._commit(pending)
                    pending, pending_bytes = [], 0
        except (TransitError, OSError) as exc:
            self.error = exc
            self._wake()

    def _write(self, chunk: StagedChunk) -> None:
        try:
            target = self._session.target(chunk.record.disk_index)
            # a later pass, or a cell sent again: old data must not survive
            overwrite = self._session.overwrite or self._session.rewrites(
                chunk.record.disk_index, chunk.record.offset_bytes)
            if chunk.patched is not None:
                for start, length in chunk.patched:  # the target holds the rest of the cell
                    target.write_sparse(chunk.record.offset_bytes + start,
                                        chunk.data[start : start + length], aligned=True,
                                        punch_zeros=True)
            elif chunk.buffer is not None:
                target.write_sparse(chunk.record.offset_bytes, chunk.data, aligned=True,
                                    punch_zeros=overwrite)
            elif overwrite:
                target.punch(chunk.record.offset_bytes, chunk.record.length_bytes)
        finally:
            if chunk.buffer is not None:
                self._free.put(chunk.buffer)

    def _commit(self, chunks: list[ChunkRecord]) -> None:
        if not chunks:
            return
        bad = self._session.commit(chunks, self._verify)
        self._results.append(Committed([c for c in chunks if c not in bad], bad))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"!")
