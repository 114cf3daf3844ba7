"""Checks of what a peer sends on the data port: control documents and chunk bounds.

Anything malformed becomes a `WireError` (the connection answers ERROR and closes) instead of
a KeyError or ValueError escaping the connection thread.
"""

from __future__ import annotations

from typing import Any

from rehost import wire
from rehost.transit.errors import TransitError
from rehost.wire import WireError

MIN_CHUNK_BYTES = 4096  # O_DIRECT needs page-aligned cells
DIGEST_HEX_CHARS = 32  # xxh3-128


def bad_frame(what: str, zh: str) -> WireError:
    """A malformed control document."""
    return WireError("Wire.BadFrame", f"{what} / {zh}")


def _int(doc: dict[str, Any], key: str, *, where: str, required: bool = True) -> int:
    value = doc.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_frame(f"{where}: {key!r} must be a non-negative integer",
                        f"{where}：{key!r} 必须是非负整数")
    return value


def check_hello(doc: dict[str, Any]) -> None:
    """Refuse a HELLO whose fields the session could not use."""
    if not isinstance(doc.get("token"), str):
        raise bad_frame("HELLO: 'token' must be a string", "HELLO：'token' 必须是字符串")
    chunk = _int(doc, "chunk_bytes", where="HELLO")
    if chunk < MIN_CHUNK_BYTES or chunk > wire.MAX_RAW_BYTES or chunk % MIN_CHUNK_BYTES:
        raise bad_frame(f"HELLO: chunk_bytes must be a multiple of {MIN_CHUNK_BYTES} up to "
                        f"{wire.MAX_RAW_BYTES}", f"HELLO：chunk_bytes 必须是 {MIN_CHUNK_BYTES} 的"
                        f"倍数且不超过 {wire.MAX_RAW_BYTES}")
    _int(doc, "wire_version", where="HELLO", required=False)
    _int(doc, "cycle", where="HELLO", required=False)
    for key in ("digests", "codecs"):  # optional: absent means xxh3-128 and zstd
        names = doc.get(key)
        if names is not None and (not isinstance(names, list) or len(names) > 16
                                  or not all(isinstance(n, str) and len(n) <= 32 for n in names)):
            raise bad_frame(f"HELLO: {key!r} must be a list of up to 16 short names",
                            f"HELLO：{key!r} 必须是最多 16 个短名称的列表")
    disks = doc.get("disks")
    if not isinstance(disks, list) or not all(isinstance(d, dict) for d in disks):
        raise bad_frame("HELLO: 'disks' must be a list of objects", "HELLO：'disks' 必须是对象列表")
    for disk in disks:
        for key in ("index", "size_bytes", "plan_bytes"):
            _int(disk, key, where="HELLO disk")


def parse_disk_done(doc: dict[str, Any]) -> tuple[int, bytes]:
    """The disk index and whole-disk digest ("" when checksums are off) of a DISK_DONE."""
    index = _int(doc, "index", where="DISK_DONE")
    text = doc.get("digest", "")
    if not isinstance(text, str) or len(text) not in (0, DIGEST_HEX_CHARS):
        raise bad_frame("DISK_DONE: 'digest' must be 32 hex digits or empty",
                        "DISK_DONE：'digest' 必须是 32 位十六进制数或为空")
    try:
        return index, bytes.fromhex(text)
    except ValueError as exc:
        raise bad_frame("DISK_DONE: 'digest' is not hexadecimal",
                        "DISK_DONE：'digest' 不是十六进制数") from exc


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
