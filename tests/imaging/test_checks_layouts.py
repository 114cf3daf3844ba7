"""The checks on LVM, XFS and btrfs disks, read in one libguestfs appliance per machine.

Each machine is checked once (one appliance launch) and every verdict asserted on that run:
ext4 and XFS roots on LVM left dirty (their journals replay clean), btrfs subvolumes with the
root found from fstab's subvol=, and the negatives: corrupt XFS, corrupt btrfs, an ext4 that
still has errors after its journal is replayed, a kernel removed, an fstab UUID that is gone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import checkdisks
from rehost.imaging.checks import failure_code, has_failures, run_checks
from rehost.imaging.result import CheckResult

pytestmark = [pytest.mark.slow, pytest.mark.qemu]


@pytest.fixture(autouse=True)
def _tcg(monkeypatch: pytest.MonkeyPatch) -> None:
    """KVM hangs on some hosts; the appliance runs under TCG unless the operator chose."""
    monkeypatch.setenv("LIBGUESTFS_BACKEND", "direct")
    monkeypatch.setenv("REHOST_VERIFY_ACCELERATOR",
                       os.environ.get("REHOST_VERIFY_ACCELERATOR", "tcg"))


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def _assert_all_pass(results: list[CheckResult], expected: set[str]) -> dict[str, CheckResult]:
    found = _by_name(results)
    assert expected <= set(found), sorted(found)
    assert {r.status for r in results} == {"pass"}, [r for r in results if r.status != "pass"]
    return found


@pytest.mark.parametrize("kind", ["ext4", "xfs"])
def test_root_on_lvm_with_a_separate_boot_passes_after_journal_replay(
    kind: str, tmp_path: Path
) -> None:
    disk = checkdisks.lvm_disk(tmp_path, kind=kind)
    results = run_checks([disk], boot_mode="BIOS")
    lv_check = next(name for name in _by_name(results) if name.endswith("/root"))
    found = _assert_all_pass(results, {"fsck:disk0p2", lv_check, "fstab", "kernel",
                                       "initramfs", "virtio", "bootloader"})
    # the root LV was shut down dirty: clean only once its journal is replayed
    assert "journal replayed" in found[lv_check].message_en, found[lv_check]
    assert "日志" in found[lv_check].message_zh
    assert found["fsck:disk0p2"].message_en.endswith(f"({kind}) is clean")
    assert "virtio_blk" in found["virtio"].message_en


def test_btrfs_subvolumes_pass_and_corrupt_data_filesystems_fail(tmp_path: Path) -> None:
    system = checkdisks.btrfs_disk(tmp_path)
    data = [checkdisks.corrupt_xfs(tmp_path), checkdisks.corrupt_btrfs(tmp_path),
            checkdisks.dirty_corrupt_ext4(tmp_path)]
    results = run_checks([system, *data], boot_mode="UEFI")
    found = _by_name(results)
    for name in ("fsck:disk0p2", "fstab", "kernel", "initramfs", "virtio", "bootloader"):
        assert found[name].status == "pass", found[name]
    for index, tool in ((1, "xfs_repair"), (2, "btrfs check"), (3, "e2fsck")):
        verdict = found[f"fsck:disk{index}p1"]
        assert verdict.status == "fail" and tool in verdict.message_en, verdict
        assert failure_code(verdict) == "Check.Filesystem" and "存在错误" in verdict.message_zh
    # the ext4 needed recovery: replayed first, then judged (e2fsck -fn alone said "clean")
    assert "after journal replay" in found["fsck:disk3p1"].message_en
    assert has_failures(results)


def test_btrfs_without_kernel_and_with_a_missing_uuid_fails(tmp_path: Path) -> None:
    disk = checkdisks.btrfs_disk(tmp_path, broken=True)
    results = run_checks([disk], boot_mode="UEFI")
    found = _by_name(results)
    kernel = found["kernel"]
    # /vmlinuz is left as a dangling link: a link is not a kernel
    assert kernel.status == "fail" and failure_code(kernel) == "Check.Kernel", kernel
    assert "subvolume @" in kernel.message_en and "@old" not in kernel.message_en
    assert found["fstab:/srv"].status == "fail"
    assert checkdisks.MISSING_UUID in found["fstab:/srv"].message_en
    assert "fstab:/home" not in found and "fstab:/boot/efi" not in found and "fstab:/" not in found
    assert found["fsck:disk0p2"].status == "pass" and found["bootloader"].status == "pass"
