"""Random-access readers over disk image files, block devices and file objects."""

import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from rehost.diskfmt.errors import DiskFormatError, DiskUnreadableError

if TYPE_CHECKING:  # typing.Protocol is Python 3.8+; the agent runs on 3.6
    from typing import Protocol  # novermin: type checking only
else:
    Protocol = object


class DiskReader(Protocol):
    """Anything that reads bytes at an absolute offset of a disk."""

    @property
    def size_bytes(self) -> int:
        """Size of the whole disk."""
        ...

    def read_at(self, offset: int, length: int) -> bytes:
        """Read exactly `length` bytes at `offset` (short only at the end of the disk)."""
        ...


class FileDisk:
    """A disk image file or block device opened read-only by path."""

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.path = Path(path)
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise DiskUnreadableError(str(self.path), exc.strerror or str(exc)) from exc
        self._size = os.lseek(self.fd, 0, os.SEEK_END)

    @property
    def size_bytes(self) -> int:
        """Size of the whole disk."""
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        """Read `length` bytes at `offset`, looping over short reads."""
        parts: list[bytes] = []
        while length > 0:
            try:
                chunk = os.pread(self.fd, min(length, 1 << 26), offset)
            except OSError as exc:
                raise DiskUnreadableError(str(self.path), exc.strerror or str(exc)) from exc
            if not chunk:
                break
            parts.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """Close the file descriptor."""
        os.close(self.fd)

    def __enter__(self) -> "FileDisk":
        return self

    def __exit__(
        self, t: "type[BaseException] | None", v: "BaseException | None", tb: "TracebackType | None"
    ) -> None:
        self.close()


class StreamDisk:
    """Adapter for a seekable binary file object."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self._size = stream.seek(0, os.SEEK_END)

    @property
    def size_bytes(self) -> int:
        """Size of the whole stream."""
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        """Read `length` bytes at `offset`."""
        self.stream.seek(offset)
        return self.stream.read(length)


class WindowDisk:
    """A sub-range of another disk (a partition), addressed from 0."""

    def __init__(self, base: "DiskReader", *, offset_bytes: int, size_bytes: int) -> None:
        self.base = base
        self.offset_bytes = offset_bytes
        self._size = max(0, min(size_bytes, base.size_bytes - offset_bytes))

    @property
    def size_bytes(self) -> int:
        """Size of the window."""
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        """Read inside the window only."""
        length = max(0, min(length, self._size - offset))
        return self.base.read_at(self.offset_bytes + offset, length)


def read_exact(disk: "DiskReader", offset: int, length: int, what: str) -> bytes:
    """Read and fail with a clear error when the disk is too short."""
    data = disk.read_at(offset, length)
    if len(data) != length:
        raise DiskFormatError(f"{what}: disk too short at offset {offset}")
    return data
