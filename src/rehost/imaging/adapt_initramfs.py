"""The virtio step: every kernel's initramfs that cannot reach a virtio disk gets the drivers.

Each initramfs is read first (imaging.initramfs, on this host): one that already holds the
virtio drivers (or whose kernel has them built in) is left alone, so a guest that came from KVM
costs nothing. The others get the guest kernel's own virtio modules appended as one more cpio
archive (imaging.initramfs_overlay): seconds, where the guest's update-initramfs or dracut takes
minutes of emulated execs under TCG. The guest's tool is configured in any case
(/etc/initramfs-tools/modules, /etc/dracut.conf.d) so that its next rebuild (a kernel update)
keeps virtio. Only an initramfs the overlay cannot handle is rebuilt by the guest's tool, inside
the appliance, with the cheapest compression level the tool takes (initramfs-tools reads
COMPRESSLEVEL from the environment; the level is not kept).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from rehost.imaging.adapt_steps import Change, kernels, tools
from rehost.imaging.errors import ImagingError
from rehost.imaging.guestfish import GuestShell
from rehost.imaging.initramfs import read_initramfs
from rehost.imaging.initramfs_overlay import OverlayUnavailable, overlay_initramfs

VIRTIO_DRIVERS = ("virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net")
BOOT_DRIVERS = ("virtio_pci", "virtio_blk", "virtio_scsi")  # what mounting root needs
DRACUT_CONF = "/etc/dracut.conf.d/50-rehost-virtio.conf"
INITRAMFS_TOOLS_MODULES = "/etc/initramfs-tools/modules"
INITRD_NAMES = ("/boot/initrd.img-{v}", "/boot/initramfs-{v}.img", "/boot/initrd-{v}")
CHEAP_LEVEL = "COMPRESSLEVEL=1 "  # mkinitramfs: gzip -1 / zstd -1 / lz4 -1 / xz -1

__all__ = ["VIRTIO_DRIVERS", "add_virtio_drivers", "has_boot_drivers"]


@dataclass(frozen=True, slots=True)
class KernelFiles:
    """One kernel's module directory in the guest, its modules.dep and modules.builtin."""

    base: str  # /lib/modules/V or /usr/lib/modules/V; "" when neither has a modules.dep
    dep: str | None
    builtin: str


def kernel_files(guest: GuestShell, version: str) -> KernelFiles:
    """modules.dep and modules.builtin of both module directories, in one read."""
    bases = [f"{b}/{version}" for b in ("/lib/modules", "/usr/lib/modules")]
    texts = [b.decode("utf-8", "replace") if b is not None else None for b in guest.read_files(
        [f"{base}/{name}" for base in bases for name in ("modules.dep", "modules.builtin")])]
    base = next((bases[i] for i in range(2) if texts[2 * i] is not None), "")
    return KernelFiles(base, texts[0] if texts[0] is not None else texts[2],
                       " ".join(t for t in texts[1::2] if t))


def has_boot_drivers(guest: GuestShell, version: str) -> bool:
    """True when this kernel's initramfs holds (or its kernel builds in) the virtio drivers."""
    return _has_drivers(kernel_files(guest, version), _initrd(guest, version))


def _has_drivers(files: KernelFiles, found: tuple[str, bytes] | None) -> bool:
    """has_boot_drivers over what was already read (an initramfs of None: the kernel has none)."""
    missing = [d for d in BOOT_DRIVERS if f"/{d}.ko" not in files.builtin]
    if not missing:
        return True
    if found is None:
        return False
    try:
        contents = read_initramfs(found[1])
    except ImagingError:
        return False  # unreadable: rebuild it
    return all(contents.has_driver(d) for d in missing)


def add_virtio_drivers(guest: GuestShell) -> list[Change]:
    """virtio drivers into every kernel's initramfs that lacks them: appended, else rebuilt."""
    versions = kernels(guest)
    files = {v: kernel_files(guest, v) for v in versions}
    initrds = {v: _initrd(guest, v) for v in versions}  # each downloaded once
    lacking = [v for v in versions if not _has_drivers(files[v], initrds[v])]
    if versions and not lacking:
        shown = ", ".join(versions)
        return [Change("Adapt.Initramfs", f"the initramfs of {shown} already has the virtio "
                       "drivers: not rebuilt", f"内核 {shown} 的 initramfs 已包含 virtio 驱动，"
                       "未重建", changed=False)]
    found = tools(guest, ("update-initramfs", "dracut"))
    changes = _configure(guest, found)
    rebuild: list[str] = []
    for version in lacking:
        change = _append(guest, version, initrds[version], files[version])
        changes.append(change)
        if not change.changed:  # the reason it could not: the guest's tool rebuilds it
            rebuild.append(version)
    if lacking and not rebuild:
        return changes
    if "update-initramfs" in found:
        tool = _initramfs_tools(guest, rebuild)
    elif "dracut" in found:
        tool = _dracut(guest, rebuild)
    else:
        return [*changes, Change(
            "Adapt.Initramfs", "the guest has neither update-initramfs nor dracut: its "
            "initramfs was not rebuilt", "客户机中没有 update-initramfs 或 dracut，未重建 "
            "initramfs", changed=False)]
    shown = ", ".join(rebuild) or "no kernel found"
    return [*changes, Change("Adapt.Initramfs", f"{tool} rebuilt the initramfs of {shown}",
                             f"{tool} 重建了内核 {shown} 的 initramfs", "/boot")]


def _initrd(guest: GuestShell, version: str) -> tuple[str, bytes] | None:
    """(path, bytes) of the kernel's initramfs in /boot, None when it has none."""
    for pattern in INITRD_NAMES:
        path = pattern.format(v=version)
        blob = guest.read_bytes(path)
        if blob is not None:
            return path, blob
    return None


def _configure(guest: GuestShell, found: set[str]) -> list[Change]:
    """The guest's initramfs tool told to include virtio from now on (its next rebuild)."""
    drivers = " ".join(VIRTIO_DRIVERS)
    if "update-initramfs" in found:
        current = guest.read(INITRAMFS_TOOLS_MODULES) or ""
        missing = [d for d in VIRTIO_DRIVERS if d not in current.split()]
        if not missing:
            return []
        guest.write(INITRAMFS_TOOLS_MODULES, current.rstrip("\n") + "\n# added by rehost "
                    "(virtio for KVM)\n" + "\n".join(missing) + "\n")
        where = INITRAMFS_TOOLS_MODULES
    elif "dracut" in found:
        guest.write(DRACUT_CONF,
                    f'# added by rehost (virtio for KVM)\nadd_drivers+=" {drivers} "\n')
        where = DRACUT_CONF
    else:
        return []
    return [Change("Adapt.Initramfs", f"added {drivers} to {where} (kept by the guest's next "
                   "initramfs rebuild)", f"已将 {drivers} 加入 {where}（客户机下次重建 initramfs "
                   "时保留）", where)]


def _append(guest: GuestShell, version: str, found: tuple[str, bytes] | None,
            files: KernelFiles) -> Change:
    """The kernel's virtio modules appended to its initramfs; a note saying why it could not."""
    if found is None or files.dep is None:
        what = "no initramfs in /boot" if found is None else "no modules.dep"
        return _not_appended(version, what, "/boot 中没有 initramfs" if found is None
                             else "没有 modules.dep")
    path, blob = found
    try:
        overlay = overlay_initramfs(
            blob, version, guest_dep=files.dep, guest_builtin=files.builtin.replace(" ", "\n"),
            fetch_all=lambda rels: guest.read_files([f"{files.base}/{r}" for r in rels]))
    except (OverlayUnavailable, ImagingError) as exc:
        return _not_appended(version, exc.message_en, exc.message_zh)
    guest.write_bytes(path, overlay.blob)
    shown = ", ".join(overlay.modules)
    grown = len(overlay.blob) - len(blob)
    return Change("Adapt.Initramfs", f"appended {shown} to {path} ({grown} bytes; the guest's "
                  "tool was not run)", f"已将 {shown} 追加到 {path}（{grown} 字节；未运行客户机的 "
                  "initramfs 工具）", path)


def _not_appended(version: str, why_en: str, why_zh: str) -> Change:
    return Change("Adapt.Initramfs", f"virtio could not be appended to the initramfs of "
                  f"{version} ({why_en}): rebuilding it in the guest", f"无法向内核 {version} 的 "
                  f"initramfs 追加 virtio（{why_zh}），改为在客户机中重建", changed=False)


def _initramfs_tools(guest: GuestShell, lacking: Iterable[str]) -> str:
    """initramfs-tools (its modules file completed by _configure): each kernel rebuilt."""
    versions = list(lacking)
    if not versions:  # no kernel directory: let the tool find what it can
        guest.sh(f"{CHEAP_LEVEL}update-initramfs -u -k all")
        return "update-initramfs -u -k all"
    for version in versions:
        mode = "-u" if f"initrd.img-{version}" in guest.ls("/boot") else "-c"
        guest.sh(f"{CHEAP_LEVEL}update-initramfs {mode} -k {shlex.quote(version)}")
    return "update-initramfs -u -k <each kernel lacking virtio>"


def _dracut(guest: GuestShell, lacking: Iterable[str]) -> str:
    """dracut (its drivers conf file written by _configure): each kernel rebuilt."""
    for version in lacking:
        guest.sh(f"dracut -f --kver {shlex.quote(version)}")
    return "dracut -f --kver <each kernel lacking virtio>"
