"""Reads a source disk (block device or image file, read-only) in plan-aligned chunks."""

import ctypes
import errno
import mmap
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from rehost.diskfmt import DiskFormatError, describe_plan
from rehost.wire import zero_bytes

if TYPE_CHECKING:  # typing.Protocol is Python 3.8+; the agent runs on 3.6
    from typing import Protocol  # novermin: type checking only
else:
    Protocol = object

CHUNK_BYTES = 4 * 1024 * 1024
DIRECT_ALIGN = 4096
READ_GAP_BYTES = 64 * 1024  # the plan's own smallest skipped free run (volfree.MIN_SKIP_BYTES)


class ExtentLike(Protocol):
    """A byte range of the send plan (rehost.diskfmt.Extent fits)."""

    @property
    def offset_bytes(self) -> int: ...

    @property
    def length_bytes(self) -> int: ...


Planner = Callable[[str], Sequence[ExtentLike]]


class Cell(NamedTuple):
    """One chunk of the fixed grid; pieces are the plan ranges inside it (relative offsets)."""

    disk_index: int
    offset_bytes: int
    length_bytes: int
    pieces: "tuple[tuple[int, int], ...]"

    @property
    def plan_bytes(self) -> int:
        """Bytes of the send plan this chunk covers."""
        return sum(length for _start, length in self.pieces)


# notes of the plan default_planner just made, by path: plan_notes takes them instead of
# reading every volume's metadata a second time
_NOTES: "dict[str, tuple[str, ...]]" = {}


def default_planner(path: str) -> "Sequence[ExtentLike]":
    """The disk-format-aware plan: tables and gaps, allocated ext blocks, no holes."""
    plan = describe_plan(path)
    _NOTES[path] = plan.notes
    return plan.extents


def plan_notes(path: str) -> "list[str]":
    """Why the plan copies volumes whole (or skips them), for the job log; [] if unreadable."""
    if path in _NOTES:
        return list(_NOTES.pop(path))
    try:
        return list(describe_plan(path).notes)
    except (DiskFormatError, OSError) as exc:
        return [f"plan not read ({exc}); the disk is copied whole"]


def plan_cells(
    disk_index: int, extents: "Sequence[ExtentLike]", *, size_bytes: int, chunk_bytes: int
) -> "Iterator[Cell]":
    """Grid cells that contain planned bytes, in offset order, with their planned pieces."""
    cell_start, pieces = -1, list[tuple[int, int]]()
    for ext in extents:
        pos, end = ext.offset_bytes, min(ext.offset_bytes + ext.length_bytes, size_bytes)
        while pos < end:
            start = pos - pos % chunk_bytes
            if start != cell_start:
                if pieces:
                    yield _cell(disk_index, cell_start, size_bytes, chunk_bytes, pieces)
                cell_start, pieces = start, []
            stop = min(end, start + chunk_bytes)
            pieces.append((pos - start, stop - pos))
            pos = stop
    if pieces:
        yield _cell(disk_index, cell_start, size_bytes, chunk_bytes, pieces)


def _cell(index: int, start: int, size: int, chunk: int, pieces: "list[tuple[int, int]]") -> "Cell":
    return Cell(index, start, min(chunk, size - start), tuple(pieces))


def read_runs(pieces: "Sequence[tuple[int, int]]") -> "list[tuple[int, int]]":
    """The cell's pieces as reads: gaps shorter than READ_GAP_BYTES are read through.

    Reading only the plan keeps stale free space off the disk's read queue; reading through
    short gaps keeps a fragmented cell from turning into hundreds of small reads.
    """
    runs: list[tuple[int, int]] = []
    for start, length in pieces:
        if runs and start - (runs[-1][0] + runs[-1][1]) < READ_GAP_BYTES:
            runs[-1] = (runs[-1][0], start + length - runs[-1][0])
        else:
            runs.append((start, length))
    return runs


def pread_into(fd: int, view: memoryview, offset: int) -> int:
    """Read into view at offset: `os.preadv` (no copy) where there is one (3.7+), else pread."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)  # novermin: guarded
    data = os.pread(fd, len(view), offset)
    view[: len(data)] = data
    return len(data)


class CellReader:
    """Reads cells of one disk into caller buffers; O_DIRECT when the file system allows it.

    With O_DIRECT, a cell the page cache holds whole (``cachestat``, Linux >= 6.5) is copied
    from memory through a second, buffered descriptor with RWF_NOWAIT; any other cell is read
    from the device with O_DIRECT, so reading a cold disk neither pollutes the cache nor
    reads a byte twice. (RWF_NOWAIT alone is not enough: on a miss it starts readahead.)
    """

    def __init__(self, path: Path, *, direct_io: bool = True) -> None:
        self.path = path
        self.direct = False
        self.fd = -1
        self.cached_fd = -1  # buffered descriptor for RWF_NOWAIT page-cache reads
        if direct_io and hasattr(os, "O_DIRECT") and hasattr(os, "preadv"):  # aligned reads
            try:
                self.fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
                self.direct = True
            except OSError:
                self.fd = -1
        if self.fd < 0:
            self.fd = os.open(path, os.O_RDONLY)
        elif hasattr(os, "RWF_NOWAIT"):
            self.cached_fd = os.open(path, os.O_RDONLY)

    def read_cell(self, cell: "Cell", buf: memoryview) -> memoryview:
        """The cell's bytes with everything outside the plan zeroed; buf must be page aligned."""
        view = buf[: cell.length_bytes]
        if cell.pieces == ((0, cell.length_bytes),):
            self._read_full(cell, buf)
            return view
        if self.direct:
            runs = read_runs(cell.pieces)
            if any(start % DIRECT_ALIGN for start, _length in runs):
                self._read_full(cell, buf)  # a planner that does not align: one whole read
            else:
                for start, length in runs:
                    self._read_direct(buf, cell.offset_bytes, start, length)
            self._zero_gaps(cell, view)
            return view
        view[:] = zero_bytes(cell.length_bytes)
        for start, length in cell.pieces:
            self._read_exact(view[start : start + length], cell.offset_bytes + start)
        return view

    def close(self) -> None:
        """Close the disk."""
        os.close(self.fd)
        if self.cached_fd >= 0:
            os.close(self.cached_fd)
            self.cached_fd = -1

    def _read_full(self, cell: "Cell", buf: memoryview) -> None:
        cached = self._read_cached(buf[: cell.length_bytes], cell.offset_bytes)
        if cached >= cell.length_bytes:
            return
        want = cell.length_bytes - cached
        if self.direct:
            want = min(len(buf) - cached, -(-want // DIRECT_ALIGN) * DIRECT_ALIGN)
        rest = buf[cached : cached + want]
        try:
            n = pread_into(self.fd, rest, cell.offset_bytes + cached)
        except OSError as exc:
            if exc.errno != errno.EINVAL or not self.direct:
                raise
            self._drop_direct()
            n = pread_into(self.fd, rest, cell.offset_bytes + cached)
        n += cached
        if n < cell.length_bytes:
            self._read_exact(buf[n : cell.length_bytes], cell.offset_bytes + n)

    def _read_direct(self, buf: memoryview, base: int, start: int, length: int) -> None:
        """buf[start:start + length] from base + start, the length rounded up for O_DIRECT."""
        want = min(len(buf) - start, -(-length // DIRECT_ALIGN) * DIRECT_ALIGN)
        try:
            n = pread_into(self.fd, buf[start : start + want], base + start)
        except OSError as exc:
            if exc.errno != errno.EINVAL or not self.direct:
                raise
            self._drop_direct()
            n = pread_into(self.fd, buf[start : start + want], base + start)
        if n < length:
            self._read_exact(buf[start + n : start + length], base + start + n)

    def _read_cached(self, view: memoryview, offset: int) -> int:
        """Bytes at the start of view served from the page cache (a DIRECT_ALIGN multiple)."""
        if self.cached_fd < 0:
            return 0
        resident = cached_pages(self.cached_fd, offset, len(view))
        if resident is None:  # no cachestat on this kernel: O_DIRECT only, as before
            os.close(self.cached_fd)
            self.cached_fd = -1
            return 0
        if resident * mmap.PAGESIZE < len(view):
            return 0
        try:
            n = os.preadv(self.cached_fd, [view], offset, os.RWF_NOWAIT)  # novermin: guarded
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
            os.close(self.cached_fd)  # this kernel or file system has no RWF_NOWAIT reads
            self.cached_fd = -1
            return 0
        return n if n >= len(view) else n - n % DIRECT_ALIGN

    def _read_exact(self, view: memoryview, offset: int) -> None:
        while view:
            n = pread_into(self.fd, view, offset)
            if n == 0:
                raise OSError(errno.EIO, f"unexpected end of {self.path} at {offset}")
            view, offset = view[n:], offset + n

    def _drop_direct(self) -> None:
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_RDONLY)
        self.direct = False
        if self.cached_fd >= 0:
            os.close(self.cached_fd)
            self.cached_fd = -1

    @staticmethod
    def _zero_gaps(cell: "Cell", view: memoryview) -> None:
        pos = 0
        for start, length in (*cell.pieces, (cell.length_bytes, 0)):
            if start > pos:
                view[pos:start] = zero_bytes(start - pos)
            pos = start + length


class _CacheStatRange(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _CacheStat(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in
                ("nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted")]


_SYS_CACHESTAT = 451  # the same number on x86_64 and arm64
_libc = ctypes.CDLL(None, use_errno=True)


def cached_pages(fd: int, offset: int, length: int) -> "int | None":
    """Pages of fd's byte range in the page cache (cachestat(2)); None where unsupported."""
    if not sys.platform.startswith("linux"):
        return None
    rng, out = _CacheStatRange(offset, length), _CacheStat()
    if _libc.syscall(_SYS_CACHESTAT, fd, ctypes.byref(rng), ctypes.byref(out), 0) != 0:
        return None
    return int(out.nr_cache)


def aligned_buffer(size_bytes: int) -> "tuple[mmap.mmap, memoryview]":
    """A page-aligned anonymous buffer (usable with O_DIRECT) and a view of it."""
    buf = mmap.mmap(-1, size_bytes)
    return buf, memoryview(buf)
