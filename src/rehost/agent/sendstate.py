"""State shared by the reader thread and the connection threads of one send_job call."""

import collections
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from rehost.agent.reader import Cell
from rehost.agent.sendspec import DiskSendProgress, SendError, SendProgress

PROGRESS_INTERVAL_S = 0.5
MAX_RESENDS_PER_CHUNK = 5


class ReadChunk(NamedTuple):
    """A cell read from the source, with the digest of its raw bytes."""

    cell: Cell
    data: memoryview
    digest: bytes
    is_zero: bool
    release: "Callable[[], None]"
    patch: "tuple[tuple[int, int], ...] | None" = None  # changed blocks: send DATA_PATCH


class SendState:
    """Work queue, resend queue, acknowledged progress, counters and the first fatal error."""

    def __init__(
        self,
        *,
        totals: "dict[int, int]",
        resumed: "dict[int, int]",
        queue_chunks: int,
        progress: "Callable[[SendProgress], None] | None",
        stop: threading.Event,
        clock: "Callable[[], float]" = time.monotonic,
    ) -> None:
        # None in the queue only wakes a waiting connection thread (see _wake_waiters)
        self.work: queue.Queue[ReadChunk | None] = queue.Queue(maxsize=queue_chunks)
        self.retry: collections.deque[Cell] = collections.deque()
        self.reader_done = threading.Event()
        self.stop = stop
        self.totals = dict(totals)
        self.done = dict(resumed)
        self.error: SendError | None = None
        self.raw_bytes = self.wire_bytes = self.chunks = self.zero_chunks = 0
        self.reconnects = 0
        self._resends: collections.Counter[tuple[int, int]] = collections.Counter()
        # (disk, offset) -> (cell digest, changed blocks) of a DATA_PATCH not yet acknowledged
        self._patches: dict[tuple[int, int], tuple[bytes, tuple[tuple[int, int], ...]]] = {}
        self._outstanding = 0
        self._progress = progress
        self._clock = clock
        self._lock = threading.Lock()
        self._report_at = clock()
        self._report_wire = 0
        # digests of the non-zero cells read, per disk (the live-copy catch-up pass's base)
        self.seen: dict[int, dict[int, bytes]] = {}

    def saw(self, cell: Cell, digest: bytes, *, zero: bool) -> None:
        """The reader read a cell (called from the reader thread only)."""
        cells = self.seen.setdefault(cell.disk_index, {})
        if zero:
            cells.pop(cell.offset_bytes, None)
        else:
            cells[cell.offset_bytes] = digest

    def produced(self, chunk: "ReadChunk") -> None:
        """Queue a chunk for sending (blocks while the queue is full)."""
        with self._lock:
            self._outstanding += 1
            if chunk.patch:
                key = (chunk.cell.disk_index, chunk.cell.offset_bytes)
                self._patches[key] = (chunk.digest, chunk.patch)
        while not self.should_quit():
            try:
                self.work.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue
        chunk.release()

    def next_item(self, timeout_s: float) -> "ReadChunk | Cell | None":
        """A cell to re-send, else a freshly read chunk, else None after timeout_s."""
        try:
            return self.retry.popleft()
        except IndexError:
            pass
        try:
            return self.work.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def reader_finished(self) -> None:
        """The reader thread queued its last chunk (or gave up)."""
        self.reader_done.set()
        self._wake_waiters()

    def requeue(self, cells: "list[Cell]", *, rejected: bool) -> None:
        """Send cells again (lost with a connection, or NACKed by the transit)."""
        for cell in cells:
            if rejected:
                key = (cell.disk_index, cell.offset_bytes)
                with self._lock:
                    self._patches.pop(key, None)  # the transit refused it: send the cell whole
                self._resends[key] += 1
                if self._resends[key] > MAX_RESENDS_PER_CHUNK:
                    self.fail(SendError("Agent.ChunkRejected",
                                        f"disk {cell.disk_index} chunk at {cell.offset_bytes}"
                                        " was rejected repeatedly / 数据块多次校验失败"))
            self.retry.append(cell)

    def acked(self, cells: "list[Cell]") -> None:
        """Chunks are durable on the transit."""
        with self._lock:
            self._outstanding -= len(cells)
            for cell in cells:
                self._patches.pop((cell.disk_index, cell.offset_bytes), None)
                self.done[cell.disk_index] = self.done.get(cell.disk_index, 0) + cell.plan_bytes
        if self.finished():
            self._wake_waiters()
        self.report()

    def patch_for(self, cell: Cell, digest: bytes) -> "tuple[tuple[int, int], ...] | None":
        """The changed blocks of a cell re-sent after a lost connection, if it still reads so.

        Laying the same blocks again is right whether or not the transit wrote them before
        the connection dropped: outside them the old and new cell are the same bytes.
        """
        with self._lock:
            found = self._patches.get((cell.disk_index, cell.offset_bytes))
        return found[1] if found is not None and found[0] == digest else None

    def unchanged(self, cell: Cell) -> None:
        """An incremental pass skipped a cell the target already holds: it counts as done."""
        with self._lock:
            self.done[cell.disk_index] = self.done.get(cell.disk_index, 0) + cell.plan_bytes
        self.report()

    def sent(self, *, raw_bytes: int, wire_bytes: int, zero: bool) -> None:
        """Count a sent frame."""
        with self._lock:
            self.raw_bytes += raw_bytes
            self.wire_bytes += wire_bytes
            self.chunks += 1
            self.zero_chunks += int(zero)

    def finished(self) -> bool:
        """Every chunk was read and acknowledged."""
        with self._lock:
            return self.reader_done.is_set() and self._outstanding == 0 and not self.retry

    def fail(self, err: SendError) -> None:
        """Record the first fatal error; every thread winds down."""
        with self._lock:
            if self.error is None:
                self.error = err

    def _wake_waiters(self) -> None:
        """Wake connection threads idling in next_item so they see the end without polling."""
        with contextlib.suppress(queue.Full):
            while True:
                self.work.put_nowait(None)

    def should_quit(self) -> bool:
        """Stop requested or a fatal error happened."""
        return self.stop.is_set() or self.error is not None

    def report(self, *, force: bool = False) -> None:
        """Call the progress callback at most every PROGRESS_INTERVAL_S."""
        if self._progress is None:
            return
        with self._lock:
            now = self._clock()
            elapsed = now - self._report_at
            if not force and elapsed < PROGRESS_INTERVAL_S:
                return
            rate = (self.wire_bytes - self._report_wire) / elapsed if elapsed > 0 else 0.0
            self._report_at, self._report_wire = now, self.wire_bytes
            snap = SendProgress(
                tuple(DiskSendProgress(i, self.done.get(i, 0), t) for i, t in
                      sorted(self.totals.items())),
                self.wire_bytes, rate)
        self._progress(snap)
