"""The corpus layouts: what each image holds and how its disk is laid out."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("linux-image-amd64", "grub-pc-bin", "grub2-common", "systemd-sysv")
ROOT_PASSWORD = "rehost"
# what MODULES=dep or dracut --hostonly find on a SATA/IDE host: its disk drivers, no virtio
SATA_DRIVERS = ("ahci", "ata_piix", "ata_generic", "sd_mod")
VIRTIO_MODULES = ("virtio_blk", "virtio_scsi", "virtio_pci", "virtio_net", "virtio_console")
# the disk drivers: initramfs-tools puts virtio_pci in every initramfs (its base set), but a
# SATA host's has no driver for a virtio disk, and that is what stops the boot on KVM
VIRTIO_DISK_DRIVERS = ("virtio_blk", "virtio_scsi")


@dataclass(frozen=True, slots=True)
class Packages:
    """One debootstrap package set (its own cached tarball).

    `later` is installed by apt in the chroot afterwards (its debs cached beside the tarball):
    debootstrap takes the first alternative of a dependency (linux-image's initramfs-tools)
    and --unpack-tarball installs every deb of the tarball, so a conflicting replacement
    (dracut) can only come once the base system is in.
    """

    include: tuple[str, ...]
    later: tuple[str, ...] = ()

    def key(self) -> str:
        """Stable text naming the set (part of the tarball's cache key)."""
        return f"{SUITE} minbase +{','.join(self.include)} later {','.join(self.later)}"


@dataclass(frozen=True, slots=True)
class Layout:
    """One corpus image: disk size, partition table, root storage and initramfs tool."""

    name: str
    description: str
    packages: Packages
    size_mib: int
    initramfs: str  # "initramfs-tools" or "dracut"
    lvm: bool  # False: ext4 root on partition 1; True: ext4 /boot p1 + LVM PV p2, XFS root LV
    boot_mib: int = 0
    root_lv_mib: int = 0


INITRAMFS_TOOLS = Packages((*BASE_PACKAGES, "initramfs-tools"))
DRACUT_LVM_XFS = Packages((*BASE_PACKAGES, "initramfs-tools", "lvm2", "xfsprogs"),
                          later=("dracut",))

LAYOUTS = {layout.name: layout for layout in (
    Layout("ext4-mbr-novirtio",
           "MBR + GRUB BIOS, ext4 root on /dev/sda1, initramfs-tools MODULES=dep built on a "
           "SATA host (no virtio in the initramfs), fstab and GRUB naming /dev/sda1",
           INITRAMFS_TOOLS, size_mib=2048, initramfs="initramfs-tools", lvm=False),
    Layout("lvm-xfs-dracut",
           "MBR + GRUB BIOS, ext4 /boot on /dev/sda1, LVM VG 'corpus' on /dev/sda2 with an XFS "
           "root LV, Debian's dracut in host-only mode built on a SATA host (no virtio)",
           DRACUT_LVM_XFS, size_mib=2560, initramfs="dracut", lvm=True, boot_mib=256,
           root_lv_mib=2048),
)}
