"""Data segments of sparse image files (SEEK_DATA / SEEK_HOLE)."""

import errno
import os
import stat

from rehost.diskfmt.extent import Span


def data_spans(fd: int, size_bytes: int) -> "list[Span]":
    """Spans holding data; a block device or a filesystem without SEEK_DATA is all data."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return [(0, size_bytes)]
    out: list[Span] = []
    pos = 0
    while pos < size_bytes:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                break  # only a hole up to the end
            if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                return [(0, size_bytes)]
            raise
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size_bytes)
        out.append((start, end))
        pos = end
    return out
