"""Reads a Linux initramfs: newc cpio archives, concatenated, optionally compressed.

Layouts seen in the wild: Debian's `initrd.img` is an uncompressed early cpio (CPU microcode)
followed by a zstd or gzip main archive; dracut's is the same with an optional early part;
older systems use one gzip, xz or lz4 archive; rehost's virtio overlay (imaging.initramfs_overlay)
appends one more, uncompressed, after them. Parsing is pure; gzip, xz, lzma and bzip2 are
decompressed with the standard library, zstd and lz4 with their command-line tools, after the
end of their frames is found here (so that what follows a compressed part is read too).
"""

from __future__ import annotations

import bz2
import lzma
import re
import struct
import subprocess
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from rehost.imaging.errors import ImagingError

NEWC_MAGICS = (b"070701", b"070702")
HEADER_BYTES = 110
TRAILER = "TRAILER!!!"
MODULE_FILE = re.compile(r"(?:^|/)([^/.]+)\.ko(?:\.[a-z]+)*$")  # virtio_blk.ko.zst
# magic -> compression name; tools for those the standard library cannot decompress
COMPRESSION_MAGICS = (
    (b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x02\x21\x4c\x18", "lz4"), (b"\x04\x22\x4d\x18", "lz4"), (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
)
TOOLS = {"zstd": ["zstd", "-dcq"], "lz4": ["lz4", "-dcq"]}
ZSTD_MAGIC = 0xFD2FB528
ZSTD_SKIPPABLE = range(0x184D2A50, 0x184D2A60)
LZ4_MAGIC, LZ4_LEGACY_MAGIC = 0x184D2204, 0x184C2102
LZ4_LEGACY_BLOCK_MAX = (8 << 20) + (8 << 20) // 255 + 16  # LZ4_compressBound(8 MiB)


class InitramfsError(ImagingError):
    """The initramfs is not a cpio archive rehost can read."""

    code = "Imaging.InitramfsUnreadable"


@dataclass(frozen=True, slots=True)
class InitramfsContents:
    """What an initramfs holds: its file names, built-in module list and compressions."""

    names: frozenset[str]
    builtin_text: str
    compressions: tuple[str, ...]

    @property
    def modules(self) -> frozenset[str]:
        """Kernel module names (virtio_blk, ...) present as .ko[.xz|.zst|.gz] files."""
        found = (MODULE_FILE.search(name) for name in self.names)
        return frozenset(m.group(1).replace("-", "_") for m in found if m is not None)

    @property
    def builtin(self) -> frozenset[str]:
        """Module names listed in the archive's modules.builtin files."""
        found = (MODULE_FILE.search(line.strip()) for line in self.builtin_text.splitlines())
        return frozenset(m.group(1).replace("-", "_") for m in found if m is not None)

    def has_driver(self, name: str) -> bool:
        """True when the driver is in the archive as a module or listed as built in."""
        return name in self.modules or name in self.builtin


@dataclass(frozen=True, slots=True)
class Member:
    """One cpio entry: its name (no leading ./), mode bits and, when asked for, its data."""

    name: str
    mode: int
    data: bytes = b""

    @property
    def kind(self) -> int:
        """The file-type bits (0o040000 directory, 0o100000 regular, 0o120000 symlink...)."""
        return self.mode & 0o170000


def read_initramfs(blob: bytes) -> InitramfsContents:
    """Every archive in the blob, decompressing compressed parts as they come."""
    names: set[str] = set()
    builtin: list[str] = []
    compressions: list[str] = []
    for member in _members(blob, lambda name: name.endswith("modules.builtin"), compressions):
        names.add(member.name)
        if member.data:
            builtin.append(member.data.decode("utf-8", "replace"))
    if not names:
        raise InitramfsError("the initramfs holds no cpio archive", "initramfs 中没有 cpio 归档")
    return InitramfsContents(frozenset(names), "\n".join(builtin), tuple(compressions))


def read_members(blob: bytes, want_data: Callable[[str], bool]) -> list[Member]:
    """Every entry of every archive, in order (later ones win at unpack); data where wanted."""
    return list(_members(blob, want_data, []))


def _members(blob: bytes, want_data: Callable[[str], bool],
             compressions: list[str]) -> Iterator[Member]:
    rest = blob
    while rest := rest.lstrip(b"\x00"):
        if rest[:6] in NEWC_MAGICS:
            rest = yield from _read_archive(rest, want_data)
            continue
        kind = _compression(rest)
        compressions.append(kind)
        rest = _decompress(kind, rest)


def _read_archive(data: bytes,
                  want_data: Callable[[str], bool]) -> Generator[Member, None, bytes]:
    """Parse one newc archive up to its trailer, yielding its entries; return what follows."""
    offset = 0
    while True:
        header = data[offset:offset + HEADER_BYTES]
        if len(header) < HEADER_BYTES or header[:6] not in NEWC_MAGICS:
            raise InitramfsError(f"broken cpio header at byte {offset}",
                                 f"cpio 头在第 {offset} 字节处损坏")
        try:
            fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        except ValueError as exc:
            raise InitramfsError(f"broken cpio header at byte {offset}",
                                 f"cpio 头在第 {offset} 字节处损坏") from exc
        mode, size, name_size = fields[1], fields[6], fields[11]
        name_start = offset + HEADER_BYTES
        name = data[name_start:name_start + name_size].rstrip(b"\x00").decode("utf-8", "replace")
        data_start = _align4(name_start + name_size)
        offset = _align4(data_start + size)
        if offset > len(data) + 3:
            raise InitramfsError(f"the cpio archive is cut short in {name!r}",
                                 f"cpio 归档在 {name!r} 处被截断")
        if name == TRAILER:
            return data[offset:]
        name = name.removeprefix("./")
        body = data[data_start:data_start + size] if want_data(name) else b""
        yield Member(name, mode, body)


def _align4(offset: int) -> int:
    """Round up to the next multiple of 4 (newc pads headers, names and data)."""
    return (offset + 3) & ~3


def _compression(data: bytes) -> str:
    """The compression of the bytes, from their magic."""
    for magic, kind in COMPRESSION_MAGICS:
        if data.startswith(magic):
            return kind
    raise InitramfsError(f"unknown initramfs format (starts with {data[:6].hex()})",
                         f"无法识别的 initramfs 格式（开头字节 {data[:6].hex()}）")


def _decompress(kind: str, data: bytes) -> bytes:
    """Decompressed bytes followed by whatever came after the compressed stream."""
    if kind in TOOLS:
        return _tool_decompress(kind, data)
    decompressor: zlib._Decompress | lzma.LZMADecompressor | bz2.BZ2Decompressor
    if kind == "gzip":
        decompressor = zlib.decompressobj(wbits=31)
    elif kind == "bzip2":
        decompressor = bz2.BZ2Decompressor()
    else:
        decompressor = lzma.LZMADecompressor(lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE)
    try:
        out = decompressor.decompress(data)
    except (zlib.error, lzma.LZMAError, OSError, EOFError) as exc:
        raise InitramfsError(f"the {kind} part of the initramfs is corrupt: {exc}",
                             f"initramfs 的 {kind} 压缩部分已损坏：{exc}") from exc
    return out + decompressor.unused_data


def _tool_decompress(kind: str, data: bytes) -> bytes:
    """zstd/lz4 through their tools, given only their frames; what follows is returned after."""
    end = _zstd_end(data) if kind == "zstd" else _lz4_end(data)
    try:
        proc = subprocess.run(TOOLS[kind], input=data[:end], capture_output=True, timeout=300,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InitramfsError(
            f"cannot decompress the {kind} initramfs: {exc}; install Debian's {kind} package",
            f"无法解压 {kind} 格式的 initramfs：{exc}；请安装 Debian 的 {kind} 软件包") from exc
    if not proc.stdout:
        detail = proc.stderr.decode("utf-8", "replace").strip()[-300:]
        raise InitramfsError(f"{kind} could not decompress the initramfs: {detail}",
                             f"{kind} 无法解压 initramfs：{detail}")
    return proc.stdout + data[end:]


def _u32(data: bytes, offset: int) -> int:
    if offset + 4 > len(data):
        raise InitramfsError("a compressed part of the initramfs is cut short",
                             "initramfs 的压缩部分被截断")
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


def _zstd_end(data: bytes) -> int:
    """Where the run of zstd (and skippable) frames at the start of data ends (RFC 8878)."""
    offset = 0
    while offset + 4 <= len(data):
        magic = _u32(data, offset)
        if magic in ZSTD_SKIPPABLE:
            offset += 8 + _u32(data, offset + 4)
            continue
        if magic != ZSTD_MAGIC:
            break
        offset = _zstd_frame_end(data, offset + 4)
    return min(offset, len(data))


def _zstd_frame_end(data: bytes, offset: int) -> int:
    """The end of one zstd frame whose header descriptor is at offset."""
    if offset >= len(data):
        raise InitramfsError("a zstd frame of the initramfs is cut short",
                             "initramfs 中的 zstd 帧被截断")
    descriptor = data[offset]
    single_segment = descriptor >> 5 & 1
    fcs = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
    offset += 1 + (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + fcs
    while True:
        if offset + 3 > len(data):
            raise InitramfsError("a zstd block of the initramfs is cut short",
                                 "initramfs 中的 zstd 块被截断")
        header = int.from_bytes(data[offset:offset + 3], "little")
        last, block_type, size = header & 1, header >> 1 & 3, header >> 3
        if block_type == 3:
            raise InitramfsError("a zstd block of the initramfs has a reserved type",
                                 "initramfs 中的 zstd 块类型无效")
        offset += 3 + (1 if block_type == 1 else size)
        if last:
            return offset + (4 if descriptor & 4 else 0)


def _lz4_end(data: bytes) -> int:
    """Where the lz4 frames (or the legacy frame the kernel's lz4 -l writes) end."""
    offset = 0
    while offset + 4 <= len(data):
        magic = _u32(data, offset)
        if magic == LZ4_LEGACY_MAGIC:
            offset += 4
            while offset + 4 <= len(data):
                size = _u32(data, offset)
                if size in (0, LZ4_LEGACY_MAGIC, LZ4_MAGIC) or size > LZ4_LEGACY_BLOCK_MAX \
                        or offset + 4 + size > len(data):
                    break  # padding or the next part: the legacy format has no end mark
                offset += 4 + size
            continue
        if magic != LZ4_MAGIC or offset + 6 > len(data):
            break
        flags = data[offset + 4]
        offset += 4 + 2 + (8 if flags & 8 else 0) + (4 if flags & 1 else 0) + 1
        while True:
            size = _u32(data, offset)
            offset += 4
            if size == 0:
                break
            offset += (size & 0x7FFFFFFF) + (4 if flags & 0x10 else 0)
        offset += 4 if flags & 4 else 0
    return min(offset, len(data))
