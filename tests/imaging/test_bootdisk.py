"""The test boot disks themselves: layout, initramfs contents, tree hash."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
from pathlib import Path

from bootdisk import BootDisk, DataDisk, build_initramfs, tree_hash
from bootdisk.kernel import debian_kernel
from rehost.imaging.layout import read_layout


def test_tree_hash_matches_sha256sum_listing(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_bytes(b"x")
    (tmp_path / "a.txt").write_bytes(b"a")
    listing = (f"{hashlib.sha256(b'a').hexdigest()}  ./a.txt\n"
               f"{hashlib.sha256(b'x').hexdigest()}  ./b/x\n")
    assert tree_hash(tmp_path) == hashlib.sha256(listing.encode()).hexdigest()


def test_initramfs_is_a_cpio_with_init_busybox_and_modules(tmp_path: Path) -> None:
    image = build_initramfs(debian_kernel(), tmp_path / "initrd.img")
    names = subprocess.run(["cpio", "-t"], input=gzip.decompress(image.read_bytes()),
                           capture_output=True, check=True).stdout.decode().split()
    assert {"init", "bin/busybox", "dev/console", "etc/modules"} <= set(names)
    assert {"lib/modules/virtio_blk.ko", "lib/modules/ext4.ko", "lib/modules/jbd2.ko"} <= set(names)


def test_disks_have_boot_partition_first_and_ext4_root_last(
    bios_disk: BootDisk, uefi_disk: BootDisk, data_disk: DataDisk
) -> None:
    bios, uefi = read_layout(bios_disk.path), read_layout(uefi_disk.path)
    assert (bios.table, uefi.table) == ("mbr", "gpt")
    for layout, disk in ((bios, bios_disk), (uefi, uefi_disk)):
        boot, root = layout.partitions
        assert boot.fs == "vfat" and root.fs == "ext4" and root.uuid == disk.root_uuid
        assert layout.last_partition == root
    assert read_layout(uefi_disk.path).partitions[0].is_esp
    assert read_layout(data_disk.path).partitions[0].label == "rehost-data"
