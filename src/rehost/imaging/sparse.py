"""Sparse-aware copies of byte ranges between files (SEEK_DATA/SEEK_HOLE, copy_file_range)."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Iterator
from pathlib import Path

CHUNK_BYTES = 8 * 1024 * 1024
_FALLOC_PUNCH_HOLE_KEEP_SIZE = 0x02 | 0x01
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def data_extents(fd: int, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of the allocated ranges of fd within [start, end)."""
    pos = start
    while pos < end:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                return
            raise
        if data >= end:
            return
        hole = min(os.lseek(fd, data, os.SEEK_HOLE), end)
        yield data, hole - data
        pos = hole


def copy_range_out(image: Path, *, offset_bytes: int, length_bytes: int, dest: Path) -> None:
    """Copy [offset, offset+length) of image into a new sparse file dest."""
    with image.open("rb") as src, dest.open("wb") as dst:
        for start, length in data_extents(src.fileno(), offset_bytes, offset_bytes + length_bytes):
            _copy(src.fileno(), start, dst.fileno(), start - offset_bytes, length)
        dst.truncate(length_bytes)
        os.fsync(dst.fileno())


def copy_range_in(source: Path, *, image: Path, offset_bytes: int, length_bytes: int) -> None:
    """Make image[offset, offset+length) equal to source (zeros past its end), keeping holes."""
    with source.open("rb") as src, image.open("r+b") as dst:
        _zero(dst.fileno(), offset_bytes, length_bytes)
        size = min(os.fstat(src.fileno()).st_size, length_bytes)
        for start, length in data_extents(src.fileno(), 0, size):
            _copy(src.fileno(), start, dst.fileno(), offset_bytes + start, length)
        os.fsync(dst.fileno())


def _copy(src_fd: int, src_off: int, dst_fd: int, dst_off: int, length: int) -> None:
    """Copy bytes between files (in-kernel when possible)."""
    done = 0
    while done < length:
        want = min(CHUNK_BYTES, length - done)
        try:
            n = os.copy_file_range(src_fd, dst_fd, want, src_off + done, dst_off + done)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            n = os.pwrite(dst_fd, os.pread(src_fd, want, src_off + done), dst_off + done)
        if n <= 0:
            raise OSError(errno.EIO, f"short copy at {src_off + done}")
        done += n


def _zero(fd: int, offset: int, length: int) -> None:
    """Deallocate a range (punch hole), or write zeros where the filesystem cannot punch."""
    if length <= 0:
        return
    ret = _libc.fallocate(fd, _FALLOC_PUNCH_HOLE_KEEP_SIZE, offset, length)
    if ret == 0:
        return
    zeros = bytes(CHUNK_BYTES)
    for start, run in data_extents(fd, offset, offset + length):
        for pos in range(start, start + run, CHUNK_BYTES):
            os.pwrite(fd, zeros[: min(CHUNK_BYTES, start + run - pos)], pos)


def copy_range(source: Path, *, source_offset: int, dest: Path, dest_offset: int,
               length_bytes: int) -> None:
    """Copy source[source_offset, +length) into dest at dest_offset, skipping source holes."""
    with source.open("rb") as src, dest.open("r+b") as dst:
        end = source_offset + length_bytes
        for start, length in data_extents(src.fileno(), source_offset, end):
            _copy(src.fileno(), start, dst.fileno(), dest_offset + start - source_offset, length)
        os.fsync(dst.fileno())
