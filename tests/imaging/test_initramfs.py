"""read_initramfs on newc archives: microcode prefix, concatenation, each compression."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import subprocess
from pathlib import Path

import pytest

from bootdisk import BootDisk, copy_disk
from checkdisks import newc
from rehost.imaging.checks import run_checks
from rehost.imaging.initramfs import InitramfsError, read_initramfs
from rehost.imaging.layout import read_layout

VERSION = "6.1.0-50-amd64"
MODS = f"usr/lib/modules/{VERSION}"


MICROCODE = newc({"kernel/x86/microcode/GenuineIntel.bin": b"\x01" * 1000})
MAIN = newc({"init": b"#!/bin/sh\n", f"{MODS}/kernel/drivers/block/virtio_blk.ko.zst": b"x",
             f"{MODS}/kernel/drivers/scsi/vmw_pvscsi.ko": b"y",
             f"{MODS}/modules.builtin": b"kernel/drivers/virtio/virtio_pci.ko\n"})


def _tool(args: list[str], data: bytes) -> bytes:
    if shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} is not installed (scripts/install-system-deps.sh installs it)")
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout


COMPRESSORS = {
    "gzip": lambda d: gzip.compress(d, mtime=0),
    "xz": lambda d: lzma.compress(d, check=lzma.CHECK_CRC32),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "bzip2": bz2.compress,
    "zstd": lambda d: _tool(["zstd", "-q", "-c"], d),
    "lz4": lambda d: _tool(["lz4", "-l", "-q", "-c"], d),
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_microcode_prefix_then_compressed_main_archive(kind: str) -> None:
    blob = MICROCODE + bytes(512) + COMPRESSORS[kind](MAIN) + bytes(100)
    contents = read_initramfs(blob)
    assert contents.compressions == (kind,)
    assert {"virtio_blk", "vmw_pvscsi"} <= contents.modules
    assert contents.has_driver("virtio_blk") and contents.has_driver("virtio_pci")
    assert not contents.has_driver("virtio_scsi")
    assert "kernel/x86/microcode/GenuineIntel.bin" in contents.names


def test_uncompressed_concatenated_archives_without_virtio() -> None:
    second = newc({f"{MODS}/kernel/drivers/ata/ahci.ko": b"z"})
    contents = read_initramfs(MICROCODE + newc({"init": b""}) + second)
    assert contents.compressions == () and contents.modules == {"ahci"}
    assert not contents.has_driver("virtio_blk")


@pytest.mark.parametrize("blob", [b"", b"\x00" * 64, b"not an initramfs", MAIN[:200],
                                  gzip.compress(MAIN)[:60]], ids=["empty", "zeros", "text",
                                                                   "cut-cpio", "cut-gzip"])
def test_unreadable_initramfs_raises_a_bilingual_error(blob: bytes) -> None:
    with pytest.raises(InitramfsError) as caught:
        read_initramfs(blob)
    assert caught.value.message_en and caught.value.message_zh


def test_check_fails_when_the_initramfs_lacks_virtio_even_with_modules_on_disk(
    bios_disk: BootDisk, tmp_path: Path
) -> None:
    broken = copy_disk(bios_disk.path, tmp_path)
    boot = next(p for p in read_layout(broken).data_partitions if p.fs == "vfat")
    initrd = tmp_path / f"initrd.img-{VERSION}"
    initrd.write_bytes(MICROCODE + gzip.compress(newc({"init": b"", "ahci.ko": b""})))
    listing = subprocess.run(["mdir", "-i", f"{broken}@@{boot.start_bytes}", "-b", "::/"],
                             capture_output=True, text=True, check=True).stdout
    old = next(line[3:] for line in listing.splitlines() if "initrd.img-" in line)
    subprocess.run(["mcopy", "-o", "-i", f"{broken}@@{boot.start_bytes}", str(initrd),
                    f"::/{old}"], check=True)
    virtio = next(r for r in run_checks([broken], boot_mode="BIOS") if r.name == "virtio")
    assert virtio.status == "fail", virtio
    assert old in virtio.message_en and "virtio_blk" in virtio.message_zh
    assert "update-initramfs" in virtio.hint


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_an_archive_appended_after_a_compressed_one_is_read(kind: str) -> None:
    """rehost's virtio overlay follows the compressed main archive: the reader must see it."""
    appended = newc({f"{MODS}/kernel/drivers/scsi/virtio_scsi.ko": b"v"})
    main = COMPRESSORS[kind](MAIN)
    blob = MICROCODE + main + bytes(-len(main) % 4) + appended
    contents = read_initramfs(blob)
    assert contents.compressions == (kind,)
    assert {"virtio_blk", "vmw_pvscsi", "virtio_scsi"} <= contents.modules


def test_a_zstd_frame_cut_short_is_a_clear_error() -> None:
    main = COMPRESSORS["zstd"](MAIN + bytes(200_000))
    with pytest.raises(InitramfsError, match=r"cut short|cannot decompress|could not"):
        read_initramfs(MICROCODE + main[: len(main) // 2])
