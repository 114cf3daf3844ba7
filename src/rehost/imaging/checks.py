"""Post-migration checks run on the disks before an image is published."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from rehost.imaging import extfs, fat
from rehost.imaging.bootfiles import check_kernel
from rehost.imaging.fstab import check_fstab
from rehost.imaging.layout import BIOS_BOOT_TYPE, ImageLayout, ImagePartition, read_layout
from rehost.imaging.result import CheckResult, CheckStatus

__all__ = ["CheckResult", "CheckStatus", "failure_code", "has_failures", "run_checks"]
FALLBACK_EFI = "/EFI/BOOT/BOOTX64.EFI"
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
    results = check_filesystems(layouts)
    system = layouts[0]
    root = find_root(system)
    if root is None:
        results.append(CheckResult(
            "fstab", "warn", "no ext2/3/4 root filesystem with /etc/fstab found; not checked",
            "未找到包含 /etc/fstab 的 ext2/3/4 根文件系统，未检查",
            "rehost reads /etc/fstab from ext2/3/4 root filesystems only"))
    else:
        text = extfs.read_file(extfs.spec(system.path, root.start_bytes), "/etc/fstab") or ""
        results += check_fstab(text, layouts)
    results += check_kernel(system, root)
    results.append(check_bootloader(system, boot_mode))
    return results


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


def check_filesystems(layouts: Sequence[ImageLayout]) -> list[CheckResult]:
    """e2fsck -fn on every ext partition of every disk."""
    results = []
    for index, layout in enumerate(layouts):
        for part in layout.data_partitions:
            if not part.is_ext:
                continue
            verdict = extfs.fsck(extfs.spec(layout.path, part.start_bytes), repair=False)
            where = f"disk {index} partition {part.number}"
            name = f"fsck:disk{index}p{part.number}"
            if verdict.clean:
                results.append(CheckResult(name, "pass", f"{where} ({part.fs}) is clean",
                                           f"磁盘 {index} 分区 {part.number}（{part.fs}）检查无误"))
            else:
                tail = verdict.output.strip().splitlines()[-3:]
                results.append(CheckResult(
                    name, "fail",
                    f"{where} ({part.fs}) has errors (e2fsck exit {verdict.returncode})",
                    f"磁盘 {index} 分区 {part.number}（{part.fs}）存在错误"
                    f"（e2fsck 退出码 {verdict.returncode}）",
                    "run e2fsck -f on the source; " + " | ".join(tail)))
    return results


def find_root(layout: ImageLayout) -> ImagePartition | None:
    """The ext partition holding /etc/fstab (the root filesystem)."""
    for part in layout.data_partitions:
        if part.is_ext and "fstab" in (
                extfs.list_dir(extfs.spec(layout.path, part.start_bytes), "/etc") or []):
            return part
    return None


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
