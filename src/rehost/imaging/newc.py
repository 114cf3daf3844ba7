"""Writes newc cpio archives, the format the Linux kernel unpacks an initramfs from."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

REGULAR, DIRECTORY, CHARDEV = 0o100000, 0o040000, 0o020000


@dataclass(frozen=True, slots=True)
class Entry:
    """One archive entry: path (no leading /), full st_mode, content, device for nodes."""

    name: str
    mode: int
    data: bytes = b""
    rdev: int = 0


def file_entry(name: str, data: bytes, perm: int = 0o644) -> Entry:
    """A regular file."""
    return Entry(name, REGULAR | perm, data)


def dir_entry(name: str, perm: int = 0o755) -> Entry:
    """A directory."""
    return Entry(name, DIRECTORY | perm)


def write_newc(entries: Iterable[Entry], *, mtime: int = 0) -> bytes:
    """The entries as one newc archive, ending with its trailer (4-byte aligned throughout)."""
    out = bytearray()
    rows = [*entries, Entry("TRAILER!!!", 0)]
    for ino, entry in enumerate(rows, 1):
        raw_name = entry.name.encode() + b"\0"
        fields = (ino, entry.mode, 0, 0, 2 if entry.mode & DIRECTORY == DIRECTORY else 1,
                  mtime, len(entry.data), 0, 0, os.major(entry.rdev), os.minor(entry.rdev),
                  len(raw_name), 0)
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw_name
        out += b"\0" * (-len(out) % 4) + entry.data + b"\0" * (-len(entry.data) % 4)
    return bytes(out)
