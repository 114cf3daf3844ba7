"""Issue 10 item 2 and the first Done-when: corpus images (tests/oscorpus) shrunk to their used
bytes + 25 % (file-level rebuild: filesystems recreated with the same UUIDs, labels and
features, the files copied, the swap area recreated smaller when the room is needed, GRUB
reinstalled for BIOS) boot to `login:`, every filesystem is clean (`e2fsck -fn`, `xfs_repair
-n`, `btrfs check --readonly`, `fsck.vfat -n`) and the file tree is the source's: owner, mode,
times, xattrs, hard links, device nodes and contents of every path (/boot/grub left out on
BIOS: grub-install rewrites it).

One rebuild (libguestfs under TCG) and one boot per layout (gpt-uefi-esp and ext4-mbr-novirtio
only with REHOST_CORPUS_SHRINK=all, for the suite's time): on virtio-blk, except the layouts
built without virtio in their initramfs, which boot on SATA (their adaptation to virtio is
tested in test_os_adaptation_corpus). The checks and the tree are read on this host through
read-only loop devices (the LVs' positions from rehost's own LVM parser); nothing of the guest
runs here. "Used" is what the agent reports for the disk (filesystems' used bytes, swap none).
btrfs-subvol's subvolumes @ and @home are recreated with their IDs and the default.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from oscorpus import diskcheck
from oscorpus.corpus import corpus_image, missing_tools
from oscorpus.recipe import LAYOUTS
from oscorpus.tree import (
    MOUNTS,
    Entry,
    differences,
    digest,
    mount_range,
    source_manifest,
    tree_manifest,
)
from rehost.diskfmt.shrink import shrink_limit
from rehost.imaging.layout import ImageLayout, read_layout
from rehost.imaging.resize import resize_disk
from rehost.imaging.verify import verify_image

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.xdist_group("boot"),
              pytest.mark.timeout(1800)]
MIB = 1 << 20
BOOT_TIMEOUT_S = 400.0
# layout -> the disk bus it boots on (the SATA-only ones have no virtio driver in the initramfs)
SHRUNK = {"gpt-lvm-ext4": "virtio", "lvm-xfs-dracut": "sata", "btrfs-subvol": "virtio"}
# REHOST_CORPUS_SHRINK=all adds the two layouts left out of the suite for its time (about
# 240 s on an idle host; both passed in session 11: docs/imaging.md)
if os.environ.get("REHOST_CORPUS_SHRINK") == "all":
    SHRUNK |= {"gpt-uefi-esp": "virtio", "ext4-mbr-novirtio": "sata"}


def used_plus_25_percent(source: Path) -> int:
    """The target: the used bytes the agent reports for the disk + 25 %, MiB aligned."""
    limit = shrink_limit(source)
    used = sum(u for _n, u in limit.used_by_partition)
    target = used * 125 // 100 // MIB * MIB
    assert limit.file_level and limit.min_size_bytes <= target < source.stat().st_size, limit
    return target


def filesystems(image: Path, layout: ImageLayout, name: str) -> list[tuple[str, int, int]]:
    """(fs, offset, size) of every filesystem the layout mounts, LVs found by rehost's parser."""
    found = [(m.fs, *mount_range(image, layout, m)) for m in MOUNTS[LAYOUTS[name].kind]]
    return list(dict.fromkeys(found))  # btrfs: two subvolumes, one filesystem


def swap_ranges(image: Path, name: str) -> tuple[int, int] | None:
    """(offset, size) of the layout's swap LV or swap partition (p1 of btrfs-subvol)."""
    layout = read_layout(image)
    if LAYOUTS[name].kind == "btrfs":
        return layout.partitions[0].start_bytes, layout.partitions[0].size_bytes
    if LAYOUTS[name].swap_mib:
        (found,) = diskcheck.lv_ranges(image, layout.partitions[-1].start_bytes)["swap"]
        return found
    return None


def swap_tags(image: Path, offset: int, size: int) -> dict[str, str]:
    """blkid's TYPE, UUID and LABEL of a swap area (read-only loop device)."""
    with diskcheck.readonly_loop(image, offset, size) as dev:
        out = subprocess.run(["blkid", "-p", "-o", "export", dev], capture_output=True,
                             text=True, check=False).stdout
    tags = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {k: tags.get(k, "") for k in ("TYPE", "UUID", "LABEL")}


@pytest.mark.parametrize("name", sorted(SHRUNK))
def test_corpus_shrunk_to_used_plus_25_percent_boots_clean_and_identical(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # KVM hangs the appliance on nested hosts like CI's: TCG, predictably
    monkeypatch.setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    missing = missing_tools() + [t for t in ("guestfish", "qemu-system-x86_64", "blkid")
                                 if shutil.which(t) is None]
    assert not missing, f"missing tools {missing}: run scripts/install-system-deps.sh test"
    # a layout per test, so the suite's workers share them (two rebuilds at once once named
    # the appliance's disks the other way round: fixed in imaging/rebuild.py)
    shrink_and_boot(tmp_path / name, name)


def shrink_and_boot(tmp_path: Path, name: str) -> None:
    """One layout: rebuilt to used + 25 %, checked, its tree compared, booted."""
    tmp_path.mkdir()
    source = corpus_image(name, tmp_path / "source.raw")
    target = used_plus_25_percent(source)
    image = tmp_path / "disk-0.raw"
    subprocess.run(["cp", "--sparse=always", str(source), str(image)], check=True)
    done = resize_disk(image, target_size_bytes=target)
    assert (done.action, image.stat().st_size) == ("rebuild", target), done

    layout = read_layout(image)
    for fs, start, size in filesystems(image, layout, name):
        diskcheck.assert_clean(image, start, size, fs, f"{name} at {start}")
    old_swap, new_swap = swap_ranges(source, name), swap_ranges(image, name)
    if old_swap and new_swap:  # the swap LV or partition: recreated smaller, same UUID, label
        assert new_swap[1] < old_swap[1] and "swap recreated smaller" in done.note, done
        assert swap_tags(image, *new_swap) == swap_tags(source, *old_swap)
        assert swap_tags(image, *new_swap)["TYPE"] == "swap"
    bios = LAYOUTS[name].firmware == "BIOS"
    expected = _without_grub(source_manifest(name, source), bios)
    assert len(expected) > 10_000, len(expected)  # a whole Debian system, not an empty fs
    rebuilt = _without_grub(tree_manifest(name, image), bios)
    assert digest(rebuilt) == digest(expected), differences(expected, rebuilt)

    boot = verify_image([image], boot_mode=LAYOUTS[name].firmware, timeout_s=BOOT_TIMEOUT_S,
                        log_path=tmp_path / "boot.log", accelerator="tcg",
                        disk_bus=SHRUNK[name])  # type: ignore[arg-type]
    assert boot.passed and "login:" in boot.matched_line, (
        boot, (tmp_path / "boot.log").read_text(errors="replace")[-3000:])


def _without_grub(entries: dict[str, Entry], bios: bool) -> dict[str, Entry]:
    """The manifest without /boot/grub on BIOS (rewritten for the new layout)."""
    if not bios:
        return entries
    return {p: e for p, e in entries.items() if p != "boot/grub" and not p.startswith("boot/grub/")}
