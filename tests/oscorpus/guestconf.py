"""The files and initramfs of a corpus guest: fstab, GRUB, serial login, a SATA-only initramfs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from rehost.imaging.initramfs import read_initramfs

from .cache import progress
from .mounts import in_chroot
from .recipe import (
    ROOT_PASSWORD,
    SATA_DRIVERS,
    SERVER_MODULES,
    TCG_SAFE_CMDLINE,
    VIRTIO_DISK_DRIVERS,
    VIRTIO_MODULES,
    Layout,
)

if TYPE_CHECKING:
    from .storage import GuestDisk

VG = "corpus"
ROOT_LV_DEVICE = f"/dev/mapper/{VG}-root"
CMDLINE = "console=tty0 console=ttyS0,115200n8"
# how long the initramfs waits for a missing root before its dead end: initramfs-tools waits
# max(30, rootdelay) s, and its /init sleeps rootdelay= s before even looking, on every boot
# (30 s of each TCG boot when it was set): nothing; dracut waits 180 s unless told
WAIT_FOR_ROOT = {"initramfs-tools": "", "dracut": " rd.retry=30 rd.timeout=30"}


def root_device(layout: Layout) -> str:
    """The root= the source's GRUB names: a kernel device name, as many real servers do."""
    return ROOT_LV_DEVICE if layout.lvm else "/dev/sda1"


def kernel_cmdline(layout: Layout) -> str:
    """GRUB_CMDLINE_LINUX of the source (dracut needs the LV to activate named)."""
    lvm = f" rd.lvm.lv={VG}/root" if layout.lvm and layout.initramfs == "dracut" else ""
    tcg = "" if layout.sata_only else f" {TCG_SAFE_CMDLINE}"
    return f"{CMDLINE}{WAIT_FOR_ROOT[layout.initramfs]}{lvm}{tcg}"


def write_files(layout: Layout, root: Path, fstab: str = "") -> None:
    """hostname, fstab (by device name unless given), root password, GRUB defaults, initramfs
    settings (MODULES=dep with SATA drivers for a SATA-only layout, else MODULES=list)."""
    host = f"corpus-{layout.name.split('-')[0]}"
    (root / "etc/hostname").write_text(host + "\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {host}\n")
    fstab = fstab or (f"{ROOT_LV_DEVICE} / xfs defaults 0 1\n/dev/sda1 /boot ext4 defaults 0 2\n"
                      if layout.lvm else "/dev/sda1 / ext4 errors=remount-ro 0 1\n")
    (root / "etc/fstab").write_text("# written by tests/oscorpus (names kernel devices)\n" + fstab)
    (root / "etc/default/grub").write_text(
        'GRUB_DEFAULT=0\nGRUB_TIMEOUT=0\nGRUB_DISTRIBUTOR="Debian"\n'
        'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
        f'GRUB_CMDLINE_LINUX="{kernel_cmdline(layout)}"\nGRUB_TERMINAL="console serial"\n'
        'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n')
    if layout.initramfs == "dracut":
        conf = root / "etc/dracut.conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "10-hostonly.conf").write_text('hostonly="yes"\nhostonly_cmdline="no"\n')
    else:
        mode, modules = ("dep", SATA_DRIVERS) if layout.sata_only else ("list", SERVER_MODULES)
        conf_file = root / "etc/initramfs-tools/initramfs.conf"
        conf_file.write_text(conf_file.read_text().replace("MODULES=most", f"MODULES={mode}"))
        (root / "etc/initramfs-tools/modules").write_text(
            f"# the disk drivers of the host this server was installed on (MODULES={mode})\n"
            + "\n".join(modules) + "\n")
    in_chroot(root, f"echo root:{ROOT_PASSWORD} | chpasswd")


def kernel_version(root: Path) -> str:
    """The one kernel installed in the guest."""
    versions = sorted(p.name for p in (root / "lib/modules").iterdir())
    if len(versions) != 1:
        raise RuntimeError(f"expected one kernel in the guest, found {versions}")
    return versions[0]


def build_initramfs(layout: Layout, root: Path, version: str) -> None:
    """The guest's own tool builds an initramfs as on a SATA host: no virtio driver in it."""
    drivers = "SATA drivers only" if layout.sata_only else "MODULES=list, virtio included"
    progress(f"initramfs for {version} with {layout.initramfs} ({drivers})")
    if layout.initramfs == "dracut":
        omit = " ".join(VIRTIO_MODULES)
        add = " ".join((*SATA_DRIVERS, "dm_mod", "xfs", "ext4"))
        # --hostonly here sees this build host, not the SATA server: name what that one has
        in_chroot(root, f"dracut -f --hostonly --add lvm --omit-drivers {shlex.quote(omit)} "
                  f"--add-drivers {shlex.quote(add)} --kver {version} "
                  f"/boot/initrd.img-{version} {version}")
    else:
        in_chroot(root, f"update-initramfs -u -k {version}")
    if layout.sata_only:
        check_no_virtio(root / f"boot/initrd.img-{version}")
    else:
        check_virtio(root / f"boot/initrd.img-{version}")


def check_virtio(initrd: Path) -> None:
    """Fail the build unless the initramfs holds virtio_blk (the image boots on virtio as is)."""
    if not read_initramfs(initrd.read_bytes()).has_driver("virtio_blk"):
        raise RuntimeError(f"{initrd} lacks virtio_blk: MODULES=list should have put it in")
    progress("initramfs: virtio_blk present")


def check_no_virtio(initrd: Path) -> None:
    """Fail the build unless the project's initramfs reader finds no virtio disk driver in it."""
    contents = read_initramfs(initrd.read_bytes())
    present = sorted(m for m in VIRTIO_DISK_DRIVERS if contents.has_driver(m))
    if present:
        raise RuntimeError(f"{initrd} holds virtio disk drivers {present}: the recipe must "
                           "leave them out")
    others = sorted(m for m in VIRTIO_MODULES if contents.has_driver(m))
    progress(f"initramfs: no virtio disk driver (other virtio modules: {others or 'none'})")
    missing = sorted(m for m in ("ahci", "sd_mod") if not contents.has_driver(m))
    if missing:
        raise RuntimeError(f"{initrd} lacks {missing}: the source could not boot on SATA")


def grub_cfg(layout: Layout, version: str, boot_uuid: str) -> str:
    """A grub.cfg naming the root by kernel device (as the server's installer left it)."""
    prefix = "" if layout.lvm else "/boot"
    return (
        "set timeout=0\nserial --unit=0 --speed=115200\nterminal_input console serial\n"
        "terminal_output console serial\ninsmod part_msdos\ninsmod ext2\n"
        f"search --no-floppy --fs-uuid --set=root {boot_uuid}\n"
        f"menuentry 'Debian GNU/Linux' {{\n"
        f"\tlinux\t{prefix}/vmlinuz-{version} root={root_device(layout)} ro "
        f"{kernel_cmdline(layout)} quiet\n"
        f"\tinitrd\t{prefix}/initrd.img-{version}\n}}\n")


def server_grub_cfg(layout: Layout, version: str, disk: GuestDisk) -> str:
    """grub.cfg of a server-like layout: /boot's filesystem by UUID, root= as fstab names it."""
    part = "part_msdos" if layout.kind == "btrfs" else "part_gpt"
    fs = "btrfs" if layout.kind == "btrfs" else "ext2"
    return (
        "set timeout=0\nserial --unit=0 --speed=115200\nterminal_input console serial\n"
        f"terminal_output console serial\ninsmod {part}\ninsmod {fs}\n"
        f"search --no-floppy --fs-uuid --set=root {disk.boot_uuid}\n"
        f"menuentry 'Debian GNU/Linux' {{\n"
        f"\tlinux\t{disk.boot_dir}/vmlinuz-{version} root={disk.root_arg} ro "
        f"{kernel_cmdline(layout)} quiet\n"
        f"\tinitrd\t{disk.boot_dir}/initrd.img-{version}\n}}\n")
