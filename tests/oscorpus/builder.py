"""Builds one corpus disk image: partitions, filesystems, debootstrap, initramfs, GRUB.

The first two layouts (ext4-mbr, lvm-xfs) are made here; the server-like ones (gpt-lvm,
btrfs, uefi) by `storage` and `bootcode`, with stale data left in their free space (`stale`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from fslayouts import lvm  # LVM tools confined to one loop device, no device-mapper needed

from . import bootcode, stale, storage
from .cache import progress, run
from .debootstrap import install_later, unpack
from .guestconf import VG, build_initramfs, grub_cfg, kernel_version, server_grub_cfg, write_files
from .mounts import chroot_ready, in_chroot, loop_range, mounted
from .recipe import MIB, Layout

SECTOR = 512
BOOT_CODE_BYTES = 440  # the MBR's boot code; the partition table after it stays


def partitions(image: Path) -> list[tuple[int, int]]:
    """(offset, size) in bytes of each partition of the image's table."""
    table = json.loads(run("sfdisk", "-J", image))["partitiontable"]["partitions"]
    return [(p["start"] * SECTOR, p["size"] * SECTOR) for p in table]


def build_raw(layout: Layout, image: Path, work: Path) -> None:
    """Build the layout's bootable raw disk at `image` (work: scratch mount points)."""
    image.unlink(missing_ok=True)
    with image.open("wb") as handle:
        handle.truncate(layout.size_mib * MIB)
    single = "label: dos\nstart=2048, type=83, bootable\n"
    script = (f"label: dos\nstart=2048, size={layout.boot_mib}MiB, type=83, bootable\n"
              "type=8e\n") if layout.lvm else single
    if layout.kind in storage.SCRIPTS:
        _build_server(layout, image, work)
        return
    run("sfdisk", "-q", image, stdin=script)
    progress(f"{layout.name}: {layout.size_mib} MiB disk, partitions {partitions(image)}")
    with _filesystems(layout, image, work / "root") as (root, boot_uuid):
        unpack(layout.packages, root)
        with chroot_ready(root):
            install_later(layout.packages, root)
            write_files(layout, root)
            version = kernel_version(root)
            build_initramfs(layout, root, version)
            core = _grub_files(layout, root, version, boot_uuid)
        _install_boot_code(image, root, core)
        in_chroot(root, "rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/*_Packages")
        progress(f"{layout.name}: unmounting")


def _build_server(layout: Layout, image: Path, work: Path) -> None:
    """A server-like layout: its disk, the system, GRUB, then stale data in free space."""
    run("sfdisk", "-q", image, stdin=storage.table_script(layout))
    progress(f"{layout.name}: {layout.size_mib} MiB disk, partitions {partitions(image)}")
    with storage.server_disk(layout, image, work / "root") as disk:
        root = disk.root
        unpack(layout.packages, root)
        with chroot_ready(root):
            install_later(layout.packages, root)
            write_files(layout, root, disk.fstab)
            version = kernel_version(root)
            build_initramfs(layout, root, version)
            (root / "boot/grub").mkdir(parents=True, exist_ok=True)
            (root / "boot/grub/grub.cfg").write_text(server_grub_cfg(layout, version, disk))
            core = bootcode.grub_image(layout, root, disk)
        if layout.firmware == "UEFI":
            bootcode.install_efi(image, disk.esp_offset, core)
        else:
            bootcode.install_bios(layout, image, root, core)
        in_chroot(root, "rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/*_Packages")
        stale.churn(disk.mounts, layout.stale_mib)
        if disk.esp_offset >= 0:
            stale.churn_fat(image, disk.esp_offset, layout.stale_mib // 4, work)
        progress(f"{layout.name}: unmounting")
    stale.fill(image, disk.unused)


@contextmanager
def _filesystems(layout: Layout, image: Path, root: Path) -> Iterator[tuple[Path, str]]:
    """The layout's filesystems made and mounted under `root`; (root, UUID of /boot's fs)."""
    parts = partitions(image)
    with ExitStack() as stack:
        if layout.lvm:
            lv_offset = _make_lvm(image, parts[1], layout.root_lv_mib * MIB)
            root_dev = stack.enter_context(loop_range(image, offset=lv_offset,
                                                      size=layout.root_lv_mib * MIB))
            boot_dev = stack.enter_context(loop_range(image, offset=parts[0][0],
                                                      size=parts[0][1]))
            run("mkfs.xfs", "-q", "-f", "-L", "root", root_dev)
            run("mkfs.ext4", "-q", "-F", "-L", "boot", boot_dev)
            stack.enter_context(mounted(root_dev, root))
            stack.enter_context(mounted(boot_dev, root / "boot"))
        else:
            boot_dev = root_dev = stack.enter_context(loop_range(image, offset=parts[0][0],
                                                                 size=parts[0][1]))
            run("mkfs.ext4", "-q", "-F", "-L", "root", root_dev)
            stack.enter_context(mounted(root_dev, root))
        yield root, run("blkid", "-s", "UUID", "-o", "value", boot_dev).strip()


def _make_lvm(image: Path, pv: tuple[int, int], root_bytes: int) -> int:
    """PV + VG 'corpus' + LV 'root' in the partition; the LV's byte offset in the image."""
    with loop_range(image, offset=pv[0], size=pv[1]) as dev:
        lvm(dev, "pvcreate", "-q", dev)
        lvm(dev, "vgcreate", "-q", VG, dev)
        lvm(dev, "lvcreate", "-q", "-an", "--zero", "n", "-L", f"{root_bytes}b", "-n", "root", VG)
        pe_start = int(lvm(dev, "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o",
                           "pe_start", dev).strip())
        ranges = lvm(dev, "lvs", "--noheadings", "-o", "seg_pe_ranges", VG).strip()
        extent = int(lvm(dev, "vgs", "--noheadings", "--units", "b", "--nosuffix", "-o",
                         "vg_extent_size", VG).strip())
    first_pe = int(ranges.split(":")[1].split("-")[0])
    return pv[0] + pe_start + first_pe * extent


def _grub_files(layout: Layout, root: Path, version: str, boot_uuid: str) -> Path:
    """GRUB's modules, grub.cfg and core.img (made by the guest's grub-mkimage) in /boot/grub."""
    grub = root / "boot/grub"
    grub.mkdir(parents=True, exist_ok=True)
    (grub / "grub.cfg").write_text(grub_cfg(layout, version, boot_uuid))
    prefix = "(hd0,msdos1)/grub" if layout.lvm else "(hd0,msdos1)/boot/grub"
    in_chroot(root, "cp -r /usr/lib/grub/i386-pc /boot/grub/ && grub-mkimage -O i386-pc "
              f"-o /boot/grub/i386-pc/core.img -p '{prefix}' biosdisk part_msdos ext2")
    return grub / "i386-pc/core.img"


def _install_boot_code(image: Path, root: Path, core: Path) -> None:
    """GRUB BIOS by hand (grub-install cannot see a partition of a loop range as a disk):
    boot.img's code into the MBR, core.img from sector 1 (boot.img's and diskboot's defaults)."""
    boot_img = (root / "usr/lib/grub/i386-pc/boot.img").read_bytes()
    core_img = core.read_bytes()
    if len(core_img) > 2047 * SECTOR:
        raise RuntimeError(f"core.img is {len(core_img)} bytes: it does not fit before 1 MiB")
    with image.open("r+b") as disk:
        disk.write(boot_img[:BOOT_CODE_BYTES])
        disk.seek(SECTOR)
        disk.write(core_img)
    progress(f"GRUB BIOS boot code written ({len(core_img)} bytes of core.img)")
