"""Reads a Linux initramfs: newc cpio archives, concatenated, optionally compressed.

Layouts seen in the wild: Debian's `initrd.img` is an uncompressed early cpio (CPU microcode)
followed by a zstd or gzip main archive; dracut's is the same with an optional early part;
older systems use one gzip, xz or lz4 archive. Parsing is pure; gzip, xz, lzma and bzip2 are
decompressed with the standard library, zstd and lz4 with their command-line tools.
"""

from __future__ import annotations

import bz2
import lzma
import re
import subprocess
import zlib
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


def read_initramfs(blob: bytes) -> InitramfsContents:
    """Every archive in the blob, decompressing compressed parts as they come."""
    names: set[str] = set()
    builtin: list[str] = []
    compressions: list[str] = []
    rest = blob
    while rest := rest.lstrip(b"\x00"):
        if rest[:6] in NEWC_MAGICS:
            rest = _read_archive(rest, names, builtin)
            continue
        kind = _compression(rest)
        compressions.append(kind)
        rest = _decompress(kind, rest)
    if not names:
        raise InitramfsError("the initramfs holds no cpio archive", "initramfs 中没有 cpio 归档")
    return InitramfsContents(frozenset(names), "\n".join(builtin), tuple(compressions))


def _read_archive(data: bytes, names: set[str], builtin: list[str]) -> bytes:
    """Parse one newc archive up to its trailer; return what follows it."""
    offset = 0
    while True:
        header = data[offset:offset + HEADER_BYTES]
        if len(header) < HEADER_BYTES or header[:6] not in NEWC_MAGICS:
            raise InitramfsError(f"broken cpio header at byte {offset}",
                                 f"cpio 头在第 {offset} 字节处损坏")
        fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        size, name_size = fields[6], fields[11]
        name_start = offset + HEADER_BYTES
        name = data[name_start:name_start + name_size].rstrip(b"\x00").decode("utf-8", "replace")
        data_start = _align4(name_start + name_size)
        offset = _align4(data_start + size)
        if name == TRAILER:
            return data[offset:]
        names.add(name.removeprefix("./"))
        if name.endswith("modules.builtin"):
            builtin.append(data[data_start:data_start + size].decode("utf-8", "replace"))


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
    """zstd/lz4 through their tools (trailing padding makes them complain: keep the output)."""
    try:
        proc = subprocess.run(TOOLS[kind], input=data, capture_output=True, timeout=300,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InitramfsError(
            f"cannot decompress the {kind} initramfs: {exc}; install Debian's {kind} package",
            f"无法解压 {kind} 格式的 initramfs：{exc}；请安装 Debian 的 {kind} 软件包") from exc
    if not proc.stdout:
        detail = proc.stderr.decode("utf-8", "replace").strip()[-300:]
        raise InitramfsError(f"{kind} could not decompress the initramfs: {detail}",
                             f"{kind} 无法解压 initramfs：{detail}")
    return proc.stdout
