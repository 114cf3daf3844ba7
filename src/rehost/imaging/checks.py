"""Post-migration checks run on the disks before an image is published."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Literal

from rehost.imaging import extfs, fat
from rehost.imaging.bootfiles import check_kernel
from rehost.imaging.errors import ImagingError
from rehost.imaging.fstab import FstabEntry, check_fstab, parse_fstab, resolve_spec
from rehost.imaging.guestfish import GuestfishError
from rehost.imaging.guestview import open_guest_view
from rehost.imaging.layout import BIOS_BOOT_TYPE, ImageLayout, read_layout
from rehost.imaging.result import CheckResult, CheckStatus
from rehost.imaging.volumes import NO_FILES, DiskView, FsckVerdict, FsVolume, HostView, read_text

__all__ = ["CheckResult", "CheckStatus", "failure_code", "has_failures", "run_checks"]
FALLBACK_EFI = "/EFI/BOOT/BOOTX64.EFI"
HOST_READABLE = NO_FILES.difference({"LVM2_member"}) | {"vfat"}
EXPECTED_LOADER = {
    "BIOS": ("boot code in the MBR", " MBR 引导代码"),
    "UEFI": (f"an EFI System Partition with {FALLBACK_EFI}",
             f"包含 {FALLBACK_EFI} 的 EFI 系统分区"),
    None: ("MBR boot code or an EFI System Partition", " MBR 引导代码或 EFI 系统分区"),
}


def run_checks(
    disks: Sequence[Path], *, boot_mode: Literal["BIOS", "UEFI"] | None = None
) -> list[CheckResult]:
    """All checks over the disks (system disk first); warnings do not fail the job."""
    layouts = [read_layout(disk) for disk in disks]
    try:
        with open_view(layouts) as view:
            results = _file_checks(view, layouts)
    except GuestfishError as exc:  # the appliance died mid-way: judge what the host can read
        results = _file_checks(HostView(layouts, reason="the libguestfs appliance failed: "
                                        f"{exc.message_en}"), layouts)
    results.append(check_bootloader(layouts[0], boot_mode))
    return results


def _file_checks(view: DiskView, layouts: Sequence[ImageLayout]) -> list[CheckResult]:
    """fsck, fstab, kernel, initramfs and virtio over one view of the disks."""
    results = check_filesystems(view)
    root = find_root(view)
    entries: list[FstabEntry] = []
    if root is None:
        results.append(_no_root(view))
    else:
        text = read_text(view, root, "/etc/fstab") or ""
        entries = parse_fstab(text)
        results += check_fstab(text, layouts, view.volumes)
    return results + check_kernel(view, root, entries)


def needs_appliance(layouts: Sequence[ImageLayout]) -> bool:
    """True when a filesystem is not ext/FAT on a partition, or an ext journal needs replay."""
    for layout in layouts:
        for part in layout.data_partitions:
            if part.is_ext and extfs.needs_recovery(extfs.spec(layout.path, part.start_bytes)):
                return True
            if not part.is_ext and part.fs not in HOST_READABLE:
                return True
    return False


@contextmanager
def open_view(layouts: Sequence[ImageLayout]) -> Iterator[DiskView]:
    """The host view when it reads everything; else the appliance (host view if it fails)."""
    if not needs_appliance(layouts):
        yield HostView(layouts)
        return
    with ExitStack() as stack:
        view: DiskView
        try:
            view = stack.enter_context(open_guest_view([layout.path for layout in layouts]))
        except ImagingError as exc:
            view = HostView(layouts, reason=f"libguestfs could not read it: {exc.message_en}")
        yield view


def _no_root(view: DiskView) -> CheckResult:
    """fstab not checked: no root filesystem found (and why, when some could not be read)."""
    unread = [f"{v.where_en} ({v.fs}): {v.error}" for v in view.volumes if v.error]
    why = ("; unreadable: " + "; ".join(unread)) if unread else ""
    return CheckResult(
        "fstab", "warn", f"no root filesystem with /etc/fstab found; not checked{why}",
        f"未找到包含 /etc/fstab 的根文件系统，未检查{why}",
        "rehost reads ext2/3/4, XFS and btrfs, on partitions and LVM logical volumes")


_FAILURE_CODES = {"fsck": "Check.Filesystem", "kernel": "Check.Kernel",
                  "bootloader": "Check.Bootloader", "virtio": "Check.Virtio",
                  "fstab": "Check.Fstab", "initramfs": "Check.Kernel"}


def failure_code(result: CheckResult) -> str:
    """The SMC-style error code of a failed check (Check.Filesystem, Check.Kernel, …)."""
    family = result.name.split(":", 1)[0]
    return _FAILURE_CODES.get(family, "Check.Failed")


def has_failures(results: Sequence[CheckResult]) -> bool:
    """True when any check failed."""
    return any(r.status == "fail" for r in results)


def check_filesystems(view: DiskView) -> list[CheckResult]:
    """The fsck verdict of every filesystem, judged after journal replay on a copy."""
    return [_fsck_result(verdict) for verdict in view.fsck()]


def _fsck_result(verdict: FsckVerdict) -> CheckResult:
    """pass (clean, or clean once its journal was replayed), fail, or warn when not checked."""
    volume = verdict.volume
    where_en, where_zh = f"{volume.where_en} ({volume.fs})", f"{volume.where_zh}（{volume.fs}）"
    name = volume.check_name
    if verdict.outcome == "clean":
        return CheckResult(name, "pass", f"{where_en} is clean", f"{where_zh}检查无误")
    if verdict.outcome == "replayed":
        return CheckResult(name, "pass", f"{where_en} is clean (journal replayed on a copy)",
                           f"{where_zh}检查无误（已在副本上重放日志）")
    if verdict.outcome == "not_checked":
        return CheckResult(name, "warn", f"{where_en} not checked: {verdict.detail}",
                           f"{where_zh}未检查：{verdict.detail}",
                           "boot-verify the image, or fsck the source before migrating")
    return CheckResult(name, "fail", f"{where_en} has errors ({verdict.tool} {verdict.detail})",
                       f"{where_zh}存在错误（{verdict.tool} {verdict.detail}）",
                       f"repair it on the source ({verdict.tool.split()[0]} without -n, on the "
                       "unmounted filesystem) and start the job again")


def find_root(view: DiskView) -> FsVolume | None:
    """The filesystem holding /etc/fstab; among several, the one whose fstab names it as /."""
    candidates = [v for v in view.volumes if v.holds_files and not v.error
                  and view.is_file(v, "/etc/fstab")]
    for volume in candidates:
        root = next((e for e in parse_fstab(read_text(view, volume, "/etc/fstab") or "")
                     if e.mountpoint == "/"), None)
        if root is not None and volume in resolve_spec(root.spec, view.volumes) and \
                _subvolume(root.options) == volume.subvol:
            return volume
    return candidates[0] if candidates else None


def _subvolume(options: Sequence[str]) -> str:
    """The btrfs subvol= option of an fstab entry, without leading slashes ('' if none)."""
    for option in options:
        if option.startswith("subvol="):
            return option.removeprefix("subvol=").strip("/")
    return ""


def check_bootloader(layout: ImageLayout, boot_mode: Literal["BIOS", "UEFI"] | None) -> CheckResult:
    """Boot code in the MBR (BIOS) or an ESP with the fallback loader (UEFI)."""
    bios_ok = _has_boot_code(layout) and (layout.table == "mbr" or any(
        p.type_code.upper() == BIOS_BOOT_TYPE for p in layout.partitions))
    efi_files = _esp_files(layout)
    uefi_ok = any(f.upper() == FALLBACK_EFI for f in efi_files)
    if (boot_mode in (None, "BIOS") and bios_ok) or (boot_mode in (None, "UEFI") and uefi_ok):
        return CheckResult("bootloader", "pass", "bootloader present in the boot area",
                           "引导区中存在引导程序")
    vendor = [f for f in efi_files if f.upper().startswith("/EFI/") and f.upper().endswith(".EFI")]
    if boot_mode != "BIOS" and vendor:
        return CheckResult(
            "bootloader", "warn",
            f"the ESP has {', '.join(vendor)} but no {FALLBACK_EFI}; firmware boot entries do "
            "not migrate, so the new machine may not find the loader",
            f"ESP 中有 {', '.join(vendor)}，但没有 {FALLBACK_EFI}；固件启动项不会随迁移保留，"
            "新机器可能找不到引导程序",
            f"copy the loader (e.g. shimx64.efi or grubx64.efi) to {FALLBACK_EFI}")
    wanted_en, wanted_zh = EXPECTED_LOADER[boot_mode]
    return CheckResult("bootloader", "fail", f"no bootloader found: expected {wanted_en}",
                       f"未找到引导程序：应有{wanted_zh}",
                       "reinstall the bootloader on the source (grub-install) and migrate again")


def _has_boot_code(layout: ImageLayout) -> bool:
    """True when the first 440 bytes of the disk are not all zero and the 0x55AA mark is set."""
    with layout.path.open("rb") as disk:
        sector = disk.read(512)
    return len(sector) == 512 and sector[510:] == b"\x55\xaa" and any(sector[:440])


def _esp_files(layout: ImageLayout) -> list[str]:
    """Files on the disk's EFI System Partitions."""
    return [f for p in layout.data_partitions if p.is_esp and p.fs == "vfat"
            for f in fat.list_files(layout.path, offset_bytes=p.start_bytes)]
