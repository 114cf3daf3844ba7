"""Issue 10, item 5 and the first Done-when: the server-like corpus layouts (tests/oscorpus:
GPT + LVM with /boot and a swap LV, btrfs subvolumes with a swap partition, GPT + UEFI with an
ESP, each with stale data in its free space) migrate through `rehost server` + agent grown by
50 %, boot to `login:` under `rehost image verify` on virtio-blk, are fsck clean with the last
partition, PV, LV and filesystem grown, and hold the very file tree of the source (read from
both images on this host through read-only loop devices and read-only mounts without journal
replay, FAT with mtools; nothing of the guest runs here).

One migration and one boot per layout prove all of it: the tree is compared on the grown image.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.published import published_disk
from oscorpus import diskcheck
from oscorpus.corpus import corpus_image, missing_tools
from oscorpus.recipe import LAYOUTS
from oscorpus.tree import differences, digest, source_manifest, tree_manifest
from rehost.imaging.layout import ImageLayout, read_layout
from rehost.sample.stack import LocalStack, start_stack

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.xdist_group("boot"),
              pytest.mark.timeout(1800)]
GIB = 1 << 30
MIB = 1 << 20
JOB_TIMEOUT_S = 1200.0  # 2 GiB synced, then grown in a TCG appliance (LVM, btrfs)
BOOT_TIMEOUT_S = 300.0
TOOLS = ("qemu-system-x86_64", "guestfish", "btrfs", "fsck.vfat", "dumpe2fs")
NAMES = ("gpt-lvm-ext4", "btrfs-subvol", "gpt-uefi-esp")
SLACK = 8 * MIB  # alignment, GPT backup, LVM metadata: what growing cannot fill


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """`rehost server` (its region `local`: no guest adaptation) under TCG."""
    missing = missing_tools() + [t for t in TOOLS if shutil.which(t) is None]
    assert not missing, f"missing tools {missing}: run scripts/install-system-deps.sh test"
    pins = {"LIBGUESTFS_BACKEND_SETTINGS": "force_tcg", "REHOST_VERIFY_ACCELERATOR": "tcg"}
    saved = {name: os.environ.get(name) for name in pins}
    os.environ.update(pins)
    try:
        running = start_stack(tmp_path_factory.mktemp("corpus-stack") / "run")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield running
    finally:
        running.stop()


def migrate(stack: LocalStack, name: str, system: Path, size_gib: int) -> dict[str, Any]:
    """Import the image as a source, run its agent and one job to a `size_gib` system disk."""
    state = stack.root / name
    source_id = stack.import_source(state, system=system, name=name)
    stack.start_agent(state)
    job = stack.json("job", "create", "--source", source_id, "--mode", "immediate",
                     "--image-name", name, "--region", "local", "--system-disk-size",
                     str(size_gib))
    doc = stack.wait_job(str(job["job_id"]), timeout_s=JOB_TIMEOUT_S)
    assert doc["status"] == "Finished", (doc, stack.logs_tail())
    return doc


def verify_boots(stack: LocalStack, image_id: str) -> dict[str, Any]:
    """`rehost image verify` (virtio-blk disks) passes with `login:`."""
    done = stack.run("image", "verify", image_id, "--timeout", str(BOOT_TIMEOUT_S), "--output",
                     "json", check=False, timeout_s=BOOT_TIMEOUT_S + 60)
    doc: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == 0 and doc["passed"], (doc, Path(doc["log_path"]).read_text(
        errors="replace")[-3000:])
    assert "login:" in doc["matched_line"], doc
    return doc


def assert_fills(image: Path, offset: int, size: int, fs: str, what: str) -> None:
    """The filesystem was grown to (nearly) the end of its partition or LV, and is clean."""
    diskcheck.assert_fills(image, offset, size, fs, what, SLACK)


def check_gpt_lvm(image: Path, layout: ImageLayout) -> None:
    """PV p3 grown to the disk's end, root LV (the last LV) and its ext4 grown, swap kept."""
    boot, pv = layout.partitions[1], layout.partitions[2]
    diskcheck.assert_clean(image, boot.start_bytes, boot.size_bytes, "ext4", "/boot")
    lvs = diskcheck.lv_ranges(image, pv.start_bytes)
    # pvresize: the VG metadata's pe_count covers the grown partition (the PV label's device
    # size field is left as it was: LVM reads the device's size, not that field)
    assert lvs["<extents>"][0][1] >= pv.size_bytes - SLACK, lvs
    assert len(lvs["root"]) == 1 and len(lvs["swap"]) == 1, lvs  # grown in place, linear
    (start, size), = lvs["root"]
    assert start + size >= pv.end_bytes - SLACK, (lvs, pv)  # no free extent left after it
    assert_fills(image, start, size, "ext4", "root LV")


def check_btrfs(image: Path, layout: ImageLayout) -> None:
    """The btrfs partition p2 and its filesystem grown to the disk's end."""
    fs = layout.partitions[1]
    assert_fills(image, fs.start_bytes, fs.size_bytes, "btrfs", "btrfs p2")


def check_uefi(image: Path, layout: ImageLayout) -> None:
    """The ESP clean, the ext4 root p2 grown to the disk's end."""
    esp, root = layout.partitions
    assert esp.is_esp and esp.fs == "vfat", esp
    diskcheck.assert_clean(image, esp.start_bytes, esp.size_bytes, "vfat", "ESP")
    assert_fills(image, root.start_bytes, root.size_bytes, "ext4", "root p2")


CHECKS = {"gpt-lvm": check_gpt_lvm, "btrfs": check_btrfs, "uefi": check_uefi}


@pytest.mark.parametrize("name", NAMES)
def test_layout_migrates_grown_by_half_boots_and_keeps_its_file_tree(
    stack: LocalStack, tmp_path: Path, name: str
) -> None:
    layout = LAYOUTS[name]
    source = corpus_image(name, tmp_path / f"{name}.raw")
    expected = source_manifest(name, source)  # read once per cached image
    assert len(expected) > 10_000, len(expected)  # a whole Debian system, not an empty fs
    target_gib = layout.size_mib * 3 // 2 // 1024
    doc = migrate(stack, name, source, target_gib)
    image = published_disk(stack, doc["image_id"])
    assert image.stat().st_size == target_gib * GIB
    grown = read_layout(image)
    last = grown.last_partition
    assert last is not None and last.end_bytes >= grown.size_bytes - SLACK, grown
    CHECKS[layout.kind](image, grown)
    got = tree_manifest(name, image)
    assert digest(got) == digest(expected), differences(expected, got)
    result = verify_boots(stack, doc["image_id"])
    assert result["boot_mode"] == layout.firmware, result
