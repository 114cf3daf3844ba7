"""The virtio step: every kernel's initramfs that cannot reach a virtio disk, rebuilt in the guest.

Each initramfs is read first (imaging.initramfs, on this host): one that already holds the
virtio drivers (or whose kernel has them built in) is left alone, so a guest that came from KVM
costs no rebuild. The others are rebuilt by the guest's own tool, inside the appliance, with the
cheapest compression level the tool takes (initramfs-tools reads COMPRESSLEVEL from the
environment): under TCG every second of the rebuild counts, and the level is not kept.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from rehost.imaging.adapt_steps import Change, kernels, tools
from rehost.imaging.errors import ImagingError
from rehost.imaging.guestfish import GuestShell
from rehost.imaging.initramfs import read_initramfs

VIRTIO_DRIVERS = ("virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net")
BOOT_DRIVERS = ("virtio_pci", "virtio_blk", "virtio_scsi")  # what mounting root needs
DRACUT_CONF = "/etc/dracut.conf.d/50-rehost-virtio.conf"
INITRAMFS_TOOLS_MODULES = "/etc/initramfs-tools/modules"
INITRD_NAMES = ("/boot/initrd.img-{v}", "/boot/initramfs-{v}.img", "/boot/initrd-{v}")
CHEAP_LEVEL = "COMPRESSLEVEL=1 "  # mkinitramfs: gzip -1 / zstd -1 / lz4 -1 / xz -1

__all__ = ["VIRTIO_DRIVERS", "add_virtio_drivers", "has_boot_drivers"]


def has_boot_drivers(guest: GuestShell, version: str) -> bool:
    """True when this kernel's initramfs holds (or its kernel builds in) the virtio drivers."""
    builtin = " ".join(guest.read(f"{base}/{version}/modules.builtin") or ""
                       for base in ("/lib/modules", "/usr/lib/modules"))
    missing = [d for d in BOOT_DRIVERS if f"/{d}.ko" not in builtin]
    if not missing:
        return True
    for pattern in INITRD_NAMES:
        blob = guest.read_bytes(pattern.format(v=version))
        if blob is None:
            continue
        try:
            contents = read_initramfs(blob)
        except ImagingError:
            return False  # unreadable: rebuild it
        return all(contents.has_driver(d) for d in missing)
    return False


def add_virtio_drivers(guest: GuestShell) -> list[Change]:
    """virtio drivers into every kernel's initramfs that lacks them, rebuilt by the guest's tool."""
    versions = kernels(guest)
    lacking = [v for v in versions if not has_boot_drivers(guest, v)]
    if versions and not lacking:
        shown = ", ".join(versions)
        return [Change("Adapt.Initramfs", f"the initramfs of {shown} already has the virtio "
                       "drivers: not rebuilt", f"内核 {shown} 的 initramfs 已包含 virtio 驱动，"
                       "未重建", changed=False)]
    found = tools(guest, ("update-initramfs", "dracut"))
    if "update-initramfs" in found:
        tool, where = _initramfs_tools(guest, lacking), INITRAMFS_TOOLS_MODULES
    elif "dracut" in found:
        tool, where = _dracut(guest, lacking), DRACUT_CONF
    else:
        return [Change("Adapt.Initramfs", "the guest has neither update-initramfs nor dracut: "
                       "its initramfs was not rebuilt", "客户机中没有 update-initramfs 或 dracut，"
                       "未重建 initramfs", changed=False)]
    drivers = " ".join(VIRTIO_DRIVERS)
    shown = ", ".join(lacking) or "no kernel found"
    return [Change("Adapt.Initramfs", f"added {drivers} to {where}; {tool} rebuilt the "
                   f"initramfs of {shown}", f"已将 {drivers} 加入 {where}；{tool} 重建了内核 "
                   f"{shown} 的 initramfs", where)]


def _initramfs_tools(guest: GuestShell, lacking: Iterable[str]) -> str:
    """initramfs-tools: the modules file completed, each lacking kernel's image rebuilt."""
    current = guest.read(INITRAMFS_TOOLS_MODULES) or ""
    missing = [d for d in VIRTIO_DRIVERS if d not in current.split()]
    if missing:
        guest.write(INITRAMFS_TOOLS_MODULES, current.rstrip("\n") + "\n# added by rehost "
                    "(virtio for KVM)\n" + "\n".join(missing) + "\n")
    versions = list(lacking)
    if not versions:  # no kernel directory: let the tool find what it can
        guest.sh(f"{CHEAP_LEVEL}update-initramfs -u -k all")
        return "update-initramfs -u -k all"
    for version in versions:
        mode = "-u" if f"initrd.img-{version}" in guest.ls("/boot") else "-c"
        guest.sh(f"{CHEAP_LEVEL}update-initramfs {mode} -k {shlex.quote(version)}")
    return "update-initramfs -u -k <each kernel lacking virtio>"


def _dracut(guest: GuestShell, lacking: Iterable[str]) -> str:
    """dracut: a drivers conf file, each lacking kernel's image rebuilt."""
    drivers = " ".join(VIRTIO_DRIVERS)
    guest.write(DRACUT_CONF, f'# added by rehost (virtio for KVM)\nadd_drivers+=" {drivers} "\n')
    for version in lacking:
        guest.sh(f"dracut -f --kver {shlex.quote(version)}")
    return "dracut -f --kver <each kernel lacking virtio>"
