"""Checks of what a peer sends on the data port: control documents and chunk bounds.

Anything malformed becomes a `WireError` (the connection answers ERROR and closes) instead of
a KeyError or ValueError escaping the connection thread.
"""

from __future__ import annotations

from rehost import wire
from rehost.protocol.hello import DiskDone, Hello
from rehost.transit.errors import TransitError
from rehost.wire import WireError

MIN_CHUNK_BYTES = 4096  # O_DIRECT needs page-aligned cells


def bad_frame(what: str, zh: str) -> WireError:
    """A malformed control document."""
    return WireError("Wire.BadFrame", f"{what} / {zh}")


def check_hello(hello: Hello) -> None:
    """Refuse a HELLO whose chunk grid the session could not use (its types are checked)."""
    chunk = hello.chunk_bytes
    if chunk < MIN_CHUNK_BYTES or chunk > wire.MAX_RAW_BYTES or chunk % MIN_CHUNK_BYTES:
        raise bad_frame(f"HELLO: chunk_bytes must be a multiple of {MIN_CHUNK_BYTES} up to "
                        f"{wire.MAX_RAW_BYTES}", f"HELLO：chunk_bytes 必须是 {MIN_CHUNK_BYTES} 的"
                        f"倍数且不超过 {wire.MAX_RAW_BYTES}")


def parse_disk_done(doc: dict[str, object]) -> tuple[int, bytes]:
    """The disk index and whole-disk digest ("" when checksums are off) of a DISK_DONE."""
    done = DiskDone.from_json(doc)
    return done.index, done.digest


def check_chunk(head: wire.DataHeader, disk_size_bytes: int) -> None:
    """Refuse a chunk that is empty, claims more plan than bytes, or leaves the disk."""
    end = head.offset_bytes + head.raw_length_bytes
    if head.raw_length_bytes == 0 or head.plan_bytes > head.raw_length_bytes:
        raise TransitError("Transit.BadChunk",
                           f"chunk at {head.offset_bytes} has a bad length or plan size"
                           f" / 位于 {head.offset_bytes} 的数据块长度或计划大小无效")
    if end > disk_size_bytes:
        raise TransitError("Transit.BadChunk",
                           f"chunk {head.offset_bytes}..{end} is beyond the end of disk "
                           f"{head.disk_index} ({disk_size_bytes} bytes)"
                           f" / 数据块 {head.offset_bytes}..{end} 超出磁盘 {head.disk_index} 的末尾"
                           f"（{disk_size_bytes} 字节）")
