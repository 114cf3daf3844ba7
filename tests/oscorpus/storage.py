"""The server-like layouts' disks: GPT + LVM, btrfs subvolumes, GPT + ESP; made and mounted.

Each maker partitions nothing (build_raw's sfdisk script did), makes the filesystems, mounts
them under `root` and yields a `GuestDisk`: what fstab, GRUB and the stale-data step need.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from fslayouts import lvm  # LVM tools confined to one loop device, no device-mapper needed

from .cache import run
from .mounts import loop_range, mounted
from .recipe import MIB, Layout

SECTOR = 512
VG = "corpus"
BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
LVM_PV = "E6D6D379-F507-44C2-A23C-238F2A3DF928"
ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
# btrfs discards freed extents on an SSD-like device (a loop device) by default since 6.2: the
# stale data must stay where the deleted files were
NODISCARD = "nodiscard"
SCRIPTS = {
    "gpt-lvm": ("label: gpt\nstart=2048, size=1MiB, type={bios}\nsize={boot}MiB, type={linux}\n"
                "type={pv}\n"),
    "btrfs": "label: dos\nstart=2048, size={boot}MiB, type=82\ntype=83, bootable\n",
    "uefi": "label: gpt\nstart=2048, size={boot}MiB, type={esp}\ntype={linux}\n",
}


@dataclass(frozen=True, slots=True)
class GuestDisk:
    """A made and mounted disk: its fstab, the kernel's root= and where GRUB finds /boot.

    `boot_uuid`/`boot_dir`: the filesystem holding /boot's files and /boot's path inside it;
    `mounts`: every mounted filesystem's mount point; `esp_offset`: the FAT ESP's byte offset
    (written with mtools: this host's kernel may have no vfat); `unused`: image byte ranges
    no filesystem owns (swap pages after the header, free LVM extents), stale data too.
    """

    root: Path
    fstab: str
    root_arg: str
    boot_uuid: str
    boot_dir: str
    mounts: tuple[Path, ...]
    unused: tuple[tuple[int, int], ...]
    esp_offset: int = -1


def table_script(layout: Layout) -> str:
    """The sfdisk script of a server-like layout."""
    return SCRIPTS[layout.kind].format(bios=BIOS_BOOT, linux=LINUX, pv=LVM_PV, esp=ESP,
                                       boot=layout.boot_mib)


def partitions(image: Path) -> list[tuple[int, int]]:
    """(offset, size) in bytes of each partition of the image's table."""
    table = json.loads(run("sfdisk", "-J", image))["partitiontable"]["partitions"]
    return [(p["start"] * SECTOR, p["size"] * SECTOR) for p in table]


def uuid_of(device: str) -> str:
    """The filesystem (or swap) UUID blkid reads on a device."""
    return run("blkid", "-p", "-s", "UUID", "-o", "value", device).strip()


@contextmanager
def server_disk(layout: Layout, image: Path, root: Path) -> Iterator[GuestDisk]:
    """The layout's filesystems made and mounted under `root`."""
    makers = {"gpt-lvm": _gpt_lvm, "btrfs": _btrfs, "uefi": _uefi}
    with ExitStack() as stack:
        yield makers[layout.kind](layout, image, root, stack)


def _gpt_lvm(layout: Layout, image: Path, root: Path, stack: ExitStack) -> GuestDisk:
    """BIOS boot p1, ext4 /boot p2, PV p3: swap LV first, the ext4 root LV last."""
    parts = partitions(image)
    lvs, free = make_vg(image, parts[2], {"swap": layout.swap_mib * MIB,
                                          "root": layout.root_lv_mib * MIB})
    root_dev = stack.enter_context(loop_range(image, offset=lvs["root"],
                                              size=layout.root_lv_mib * MIB))
    boot_dev = stack.enter_context(loop_range(image, offset=parts[1][0], size=parts[1][1]))
    swap_dev = stack.enter_context(loop_range(image, offset=lvs["swap"],
                                              size=layout.swap_mib * MIB))
    run("mkfs.ext4", "-q", "-F", "-L", "root", root_dev)
    run("mkfs.ext4", "-q", "-F", "-L", "boot", boot_dev)
    run("mkswap", "-L", "swap", swap_dev)
    stack.enter_context(mounted(root_dev, root))
    stack.enter_context(mounted(boot_dev, root / "boot"))
    boot_uuid = uuid_of(boot_dev)
    fstab = (f"/dev/mapper/{VG}-root / ext4 errors=remount-ro 0 1\n"
             f"UUID={boot_uuid} /boot ext4 defaults 0 2\n"
             f"/dev/mapper/{VG}-swap none swap sw 0 0\n")
    swap_pages = (lvs["swap"] + 4096, layout.swap_mib * MIB - 4096)
    return GuestDisk(root, fstab, f"/dev/mapper/{VG}-root", boot_uuid, "",
                     (root, root / "boot"), (swap_pages, *free))


def _btrfs(layout: Layout, image: Path, root: Path, stack: ExitStack) -> GuestDisk:
    """Swap p1, btrfs p2 with subvolumes @ mounted at / and @home at /home."""
    parts = partitions(image)
    swap_dev = stack.enter_context(loop_range(image, offset=parts[0][0], size=parts[0][1]))
    fs_dev = stack.enter_context(loop_range(image, offset=parts[1][0], size=parts[1][1]))
    run("mkswap", "-L", "swap", swap_dev)
    run("mkfs.btrfs", "-q", "-f", "-L", "root", fs_dev)
    with mounted(fs_dev, root, options=NODISCARD):
        run("btrfs", "-q", "subvolume", "create", root / "@")
        run("btrfs", "-q", "subvolume", "create", root / "@home")
    stack.enter_context(mounted(fs_dev, root, options=f"subvol=@,{NODISCARD}"))
    stack.enter_context(mounted(fs_dev, root / "home", options=f"subvol=@home,{NODISCARD}"))
    fs_uuid, swap_uuid = uuid_of(fs_dev), uuid_of(swap_dev)
    fstab = (f"UUID={fs_uuid} / btrfs subvol=@ 0 0\n"
             f"UUID={fs_uuid} /home btrfs subvol=@home 0 0\n"
             f"UUID={swap_uuid} none swap sw 0 0\n")
    swap_pages = (parts[0][0] + 4096, parts[0][1] - 4096)
    return GuestDisk(root, fstab, f"UUID={fs_uuid} rootflags=subvol=@", fs_uuid, "/@/boot",
                     (root, root / "home"), (swap_pages,))


def _uefi(layout: Layout, image: Path, root: Path, stack: ExitStack) -> GuestDisk:
    """FAT32 ESP p1 (mounted at /boot/efi by the guest, filled with mtools here), ext4 root p2."""
    parts = partitions(image)
    with loop_range(image, offset=parts[0][0], size=parts[0][1]) as esp_dev:
        run("mkfs.vfat", "-F", "32", "-n", "ESP", esp_dev)
        esp_uuid = uuid_of(esp_dev)
    root_dev = stack.enter_context(loop_range(image, offset=parts[1][0], size=parts[1][1]))
    run("mkfs.ext4", "-q", "-F", "-L", "root", root_dev)
    stack.enter_context(mounted(root_dev, root))
    (root / "boot/efi").mkdir(parents=True)
    root_uuid = uuid_of(root_dev)
    fstab = (f"UUID={root_uuid} / ext4 errors=remount-ro 0 1\n"
             f"UUID={esp_uuid} /boot/efi vfat umask=0077 0 1\n")
    return GuestDisk(root, fstab, f"UUID={root_uuid}", root_uuid, "/boot", (root,), (),
                     esp_offset=parts[0][0])


def make_vg(image: Path, pv: tuple[int, int], lvs: dict[str, int]
            ) -> tuple[dict[str, int], list[tuple[int, int]]]:
    """PV + VG 'corpus' + the LVs in order (linear, inactive); each LV's image byte offset
    and the image byte ranges of the VG's free extents."""
    with loop_range(image, offset=pv[0], size=pv[1]) as dev:
        lvm(dev, "pvcreate", "-q", dev)
        lvm(dev, "vgcreate", "-q", VG, dev)
        for name, size in lvs.items():
            lvm(dev, "lvcreate", "-q", "-an", "--zero", "n", "-L", f"{size}b", "-n", name, VG)
        pe_start = int(lvm(dev, "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o",
                           "pe_start", dev).strip())
        extent = int(lvm(dev, "vgs", "--noheadings", "--units", "b", "--nosuffix", "-o",
                         "vg_extent_size", VG).strip())
        rows = lvm(dev, "pvs", "--noheadings", "--segments", "-o",
                   "pvseg_start,pvseg_size,lv_name", dev)
    offsets: dict[str, int] = {}
    free: list[tuple[int, int]] = []
    for row in rows.splitlines():
        start, count, *names = row.split()
        where = pv[0] + pe_start + int(start) * extent
        if names:
            offsets[names[0]] = where
        else:
            free.append((where, int(count) * extent))
    return offsets, free
