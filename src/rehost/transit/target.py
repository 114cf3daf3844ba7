"""The job's target disks: sparse files in the transit work directory."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import mmap
import os
from collections.abc import Callable
from pathlib import Path

import xxhash

from rehost.chunkdigest import ChunkDigest
from rehost.transit.errors import TransitError, disk_full
from rehost.wire import disk_digest_record, is_zero

SPARSE_BLOCK = 64 * 1024
DIRECT_ALIGN = 4096


class TargetDisk:
    """One sparse target file written with pwrite, made durable with fdatasync."""

    def __init__(self, path: Path, size_bytes: int) -> None:
        self.path = path
        self.size_bytes = size_bytes
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self.fd).st_size != size_bytes:
            self._guard(lambda: os.ftruncate(self.fd, size_bytes))
        self.direct_fd = _open_direct(path)

    def write(self, offset: int, data: memoryview | bytes, *, aligned: bool = False) -> None:
        """Write data at offset; aligned=True promises a page-aligned buffer (O_DIRECT)."""
        if offset < 0 or offset + len(data) > self.size_bytes:
            raise TransitError("Transit.BadChunk", f"chunk at {offset} is outside {self.path.name}")
        view = memoryview(data)
        direct = (aligned and self.direct_fd >= 0 and offset % DIRECT_ALIGN == 0
                  and len(view) % DIRECT_ALIGN == 0)
        fd = self.direct_fd if direct else self.fd

        def _do() -> None:
            pos, rest = offset, view
            while rest:
                n = os.pwrite(fd, rest, pos)
                pos, rest = pos + n, rest[n:]

        self._guard(_do)

    def write_sparse(self, offset: int, data: memoryview | bytes, *, aligned: bool = False,
                     punch_zeros: bool = False) -> None:
        """Write only the non-zero 64 KiB blocks of data, so zeros stay holes on the target.

        punch_zeros: the target may hold older data there, so zero blocks are punched out.
        """
        view = memoryview(data)
        run_start, zero_start = -1, -1
        for pos in range(0, len(view) + SPARSE_BLOCK, SPARSE_BLOCK):
            block = view[pos : pos + SPARSE_BLOCK]
            zero = not block or is_zero(block, xxhash.xxh3_128_digest(block))
            if not zero and run_start < 0:
                run_start = pos
            elif zero and run_start >= 0:
                self.write(offset + run_start, view[run_start:pos], aligned=aligned)
                run_start = -1
            if zero and block and zero_start < 0:
                zero_start = pos
            elif (not zero or not block) and zero_start >= 0:
                if punch_zeros:
                    self.punch(offset + zero_start, min(pos, len(view)) - zero_start)
                zero_start = -1

    def punch(self, offset: int, length: int) -> None:
        """Make a range read back as zeros (a hole where the file system allows it)."""
        if offset < 0 or offset + length > self.size_bytes:
            raise TransitError("Transit.BadChunk", f"range at {offset} is outside {self.path.name}")
        self._guard(lambda: punch_hole(self.fd, offset, length))

    def sync(self) -> None:
        """Make written data durable."""
        self._guard(lambda: os.fdatasync(self.fd))

    def read_into(self, buf: memoryview, offset: int) -> int:
        """Read back into buf; returns the byte count."""
        return os.preadv(self.fd, [buf], offset)

    def close(self) -> None:
        """Close the file."""
        os.close(self.fd)
        if self.direct_fd >= 0:
            os.close(self.direct_fd)

    def disk_digest(self, chunk_bytes: int, algo: ChunkDigest) -> bytes:
        """algo over (offset, algo(chunk)) of every non-zero chunk, in offset order."""
        total = algo.hasher()
        buf = mmap.mmap(-1, chunk_bytes)
        view = memoryview(buf)
        try:
            for offset in self._data_chunks(chunk_bytes):
                n = self.read_into(view[: min(chunk_bytes, self.size_bytes - offset)], offset)
                digest = algo.digest(view[:n])
                if digest != algo.zero(n):
                    total.update(disk_digest_record(offset, digest))
        finally:
            view.release()
            buf.close()
        return bytes(total.digest())

    def _data_chunks(self, chunk_bytes: int) -> list[int]:
        offsets: list[int] = []
        pos = 0
        while pos < self.size_bytes:
            try:
                pos = os.lseek(self.fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    break
                raise
            cell = pos - pos % chunk_bytes
            offsets.append(cell)
            pos = cell + chunk_bytes
        return offsets

    def _guard(self, op: Callable[[], None]) -> None:
        try:
            op()
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise disk_full(str(self.path)) from exc
            raise



def _open_direct(path: Path) -> int:
    """A second, O_DIRECT descriptor (-1 where the file system refuses it, e.g. tmpfs)."""
    if not hasattr(os, "O_DIRECT"):
        return -1
    try:
        return os.open(path, os.O_WRONLY | os.O_DIRECT)
    except OSError:
        return -1


_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 0x01, 0x02


def punch_hole(fd: int, offset: int, length: int) -> None:
    """fallocate(PUNCH_HOLE); where unsupported, write zeros instead."""
    libc = _libc()
    if libc is not None and libc.fallocate(
            fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE,
            ctypes.c_int64(offset), ctypes.c_int64(length)) == 0:
        return
    zeros = bytes(min(length, SPARSE_BLOCK * 16))
    pos, end = offset, offset + length
    while pos < end:
        pos += os.pwrite(fd, zeros[: end - pos], pos)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return libc
