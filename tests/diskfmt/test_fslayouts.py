"""LVM2, XFS, btrfs, swap and FAT in the send plan, on disks made by the real tools.

Each test restores only the planned ranges onto zeros and checks the result with the
filesystem's own tools: fsck accepts it and every file reads back byte for byte.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from diskfactory import MIB, copy_planned, dumpe2fs_unused_itable_ranges, run
from fslayouts import (
    FsImage,
    LayoutDisk,
    loop_device,
    lvm,
    make_fs,
    make_lvm_disk,
    make_single_fs_disk,
    partition,
)
from rehost.diskfmt import describe_plan
from rehost.diskfmt.e2tools import debugfs_cat

# GPT + alignment gaps + PV label/metadata area, sent as they are
METADATA_BYTES = 4 * MIB


def _extract(image: Path, fs: FsImage, out: Path) -> Path:
    """Copy one filesystem's byte range into its own file (tools without an offset option)."""
    with image.open("rb") as a, out.open("wb") as b:
        a.seek(fs.start_bytes)
        b.write(a.read(fs.size_bytes))
    return out


def _never_used_inode_tables(disk: LayoutDisk) -> int:
    """Bytes of ext inode tables past the unused-inode mark: counted used, not sent."""
    return sum(e - s for fs in disk.filesystems.values() if fs.kind.startswith("ext")
               for s, e in dumpe2fs_unused_itable_ranges(disk.path, fs.start_bytes))


def _within_target(disk: LayoutDisk, planned: int) -> None:
    assert planned <= (disk.used_bytes + METADATA_BYTES) * 1.03, (planned, disk.used_bytes)
    # the used data itself is sent
    assert planned >= (disk.used_bytes - _never_used_inode_tables(disk)) * 0.9


def _xfs_file(img: Path, name: str) -> bytes:
    """A file's bytes read through xfs_db's block map (no mount needed)."""
    out = run("xfs_db", "-r", "-c", f"path /{name}", "-c", "p core.size", "-c", "bmap",
              "-c", "sb 0", "-c", "p agblocks blocksize", img)
    size = int(re.search(r"core.size = (\d+)", out).group(1))  # type: ignore[union-attr]
    ag_blocks = int(re.search(r"agblocks = (\d+)", out).group(1))  # type: ignore[union-attr]
    block = int(re.search(r"blocksize = (\d+)", out).group(1))  # type: ignore[union-attr]
    data = bytearray(size)
    with img.open("rb") as f:
        for off, ag, agbno, count in re.findall(
                r"data offset (\d+) startblock \d+ \((\d+)/(\d+)\) count (\d+)", out):
            f.seek((int(ag) * ag_blocks + int(agbno)) * block)
            chunk = f.read(int(count) * block)
            at = int(off) * block
            data[at : at + len(chunk)] = chunk[: max(0, size - at)]
    return bytes(data[:size])


def _check_xfs(img: Path, files: dict[str, bytes]) -> None:
    proc = subprocess.run(["xfs_repair", "-n", "-f", str(img)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in list(files)[:12]:
        assert _xfs_file(img, name) == files[name], name


@pytest.fixture(scope="module")
def lvm_ext4(tmp_path_factory: pytest.TempPathFactory) -> LayoutDisk:
    return make_lvm_disk(tmp_path_factory.mktemp("lvm-ext4"))


@pytest.fixture(scope="module")
def lvm_xfs(tmp_path_factory: pytest.TempPathFactory) -> LayoutDisk:
    return make_lvm_disk(tmp_path_factory.mktemp("lvm-xfs"), root_kind="xfs")


def _pv_of(disk: LayoutDisk) -> tuple[int, int]:
    out = run("sfdisk", "-J", disk.path)
    start, size = re.findall(r'"start":\s*(\d+),\s*"size":\s*(\d+)', out)[1]
    return int(start) * 512, int(size) * 512


def test_lvm_ext4_root_and_swap_send_only_used_blocks(lvm_ext4: LayoutDisk,
                                                      tmp_path: Path) -> None:
    plan = describe_plan(lvm_ext4.path)
    assert plan.notes == ()
    _within_target(lvm_ext4, plan.planned_bytes)
    target = tmp_path / "target.img"
    copy_planned(lvm_ext4.path, target, plan.extents)
    for name in ("boot", "root"):
        fs = lvm_ext4.filesystems[name]
        proc = subprocess.run(["e2fsck", "-fn", f"{target}?offset={fs.start_bytes}"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout
        for rel, content in list(fs.files.items())[:12]:
            assert debugfs_cat(target, fs.start_bytes, rel) == content, rel
    swap = lvm_ext4.filesystems["swap"]
    with lvm_ext4.path.open("rb") as a, target.open("rb") as b:
        a.seek(swap.start_bytes)
        b.seek(swap.start_bytes)
        assert a.read(4096) == b.read(4096)
    start, size = _pv_of(lvm_ext4)
    with loop_device(target, offset=start, size=size) as dev:  # lvm reads the copied metadata
        names = lvm(dev, "lvs", "--noheadings", "-o", "lv_name").split()
    assert sorted(names) == ["root", "swap"]


def test_lvm_unallocated_extents_and_swap_pages_are_not_sent(lvm_ext4: LayoutDisk) -> None:
    plan = describe_plan(lvm_ext4.path)
    swap = lvm_ext4.filesystems["swap"]
    root = lvm_ext4.filesystems["root"]
    pv_start, pv_size = _pv_of(lvm_ext4)
    after_lvs = max(swap.start_bytes + swap.size_bytes, root.start_bytes + root.size_bytes)
    for ext in plan.extents:
        assert not (swap.start_bytes + 4096 <= ext.offset_bytes < swap.start_bytes
                    + swap.size_bytes)
        assert not (after_lvs <= ext.offset_bytes < pv_start + pv_size - MIB)


def test_lvm_xfs_root_is_planned_and_restores(lvm_xfs: LayoutDisk, tmp_path: Path) -> None:
    plan = describe_plan(lvm_xfs.path)
    assert plan.notes == ()
    _within_target(lvm_xfs, plan.planned_bytes)
    target = tmp_path / "target.img"
    copy_planned(lvm_xfs.path, target, plan.extents)
    root = lvm_xfs.filesystems["root"]
    _check_xfs(_extract(target, root, tmp_path / "root.xfs"), root.files)


def test_xfs_partition(tmp_path: Path) -> None:
    disk = make_single_fs_disk(tmp_path, "xfs")
    plan = describe_plan(disk.path)
    assert plan.notes == ()
    _within_target(disk, plan.planned_bytes)
    copy_planned(disk.path, tmp_path / "t.img", plan.extents)
    fs = disk.filesystems["xfs"]
    _check_xfs(_extract(tmp_path / "t.img", fs, tmp_path / "x.xfs"), fs.files)


def test_btrfs_partition(tmp_path: Path) -> None:
    disk = make_single_fs_disk(tmp_path, "btrfs")
    plan = describe_plan(disk.path)
    assert plan.notes == ()
    _within_target(disk, plan.planned_bytes)
    copy_planned(disk.path, tmp_path / "t.img", plan.extents)
    fs = disk.filesystems["btrfs"]
    img = _extract(tmp_path / "t.img", fs, tmp_path / "b.btrfs")
    proc = subprocess.run(["btrfs", "check", "--readonly", str(img)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "restored"
    out.mkdir()
    run("btrfs", "restore", img, out)
    for rel, content in fs.files.items():
        assert (out / rel).read_bytes() == content, rel


def test_vfat_partition(tmp_path: Path) -> None:
    disk = make_single_fs_disk(tmp_path, "vfat")
    plan = describe_plan(disk.path)
    assert plan.notes == ()
    _within_target(disk, plan.planned_bytes)
    copy_planned(disk.path, tmp_path / "t.img", plan.extents)
    fs = disk.filesystems["vfat"]
    img = _extract(tmp_path / "t.img", fs, tmp_path / "f.fat")
    proc = subprocess.run(["fsck.vfat", "-n", str(img)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rel, content in list(fs.files.items())[:12]:
        got = subprocess.run(["mtype", "-i", str(img), f"::/{rel}"], capture_output=True,
                             check=True).stdout
        assert got == content, rel


def test_ext4_in_an_lv_of_two_segments(tmp_path: Path) -> None:
    image = tmp_path / "seg.img"
    ((start, size),) = partition(image, 96 * MIB, "type=lvm\n")
    with loop_device(image, offset=start, size=size) as dev:
        lvm(dev, "pvcreate", "-q", dev)
        lvm(dev, "vgcreate", "-q", "vgseg", dev)
        lvm(dev, "lvcreate", "-q", "-an", "--zero", "n", "-L", "16m", "-n", "root", "vgseg")
        lvm(dev, "lvcreate", "-q", "-an", "--zero", "n", "-L", "8m", "-n", "other", "vgseg")
        lvm(dev, "lvextend", "-q", "-L", "32m", "vgseg/root")
        pe_start = int(lvm(dev, "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o",
                           "pe_start", dev))
        rows = lvm(dev, "lvs", "--noheadings", "-o", "seg_pe_ranges", "vgseg/root").split()
    firsts = [int(r.split(":")[1].split("-")[0]) for r in rows]
    pieces = [start + pe_start + pe * 4 * MIB for pe in firsts]
    assert len(pieces) == 2 and pieces[1] > pieces[0] + 16 * MIB  # really two segments
    fs = make_fs("ext4", tmp_path / "root.fs", 32 * MIB, files_bytes=6 * MIB, seed=9)
    with (tmp_path / "root.fs").open("rb") as src, image.open("r+b") as dst:
        for at in pieces:
            dst.seek(at)
            dst.write(src.read(16 * MIB))
    plan = describe_plan(image)
    assert plan.notes == ("LV vgseg/other: no filesystem recognised; copied whole",)
    assert plan.planned_bytes <= fs.used_bytes + 8 * MIB + METADATA_BYTES
    copy_planned(image, tmp_path / "t.img", plan.extents)
    lv = tmp_path / "lv.ext4"
    with (tmp_path / "t.img").open("rb") as src, lv.open("wb") as out:
        for at in pieces:
            src.seek(at)
            out.write(src.read(16 * MIB))
    proc = subprocess.run(["e2fsck", "-fn", str(lv)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    for rel, content in list(fs.files.items())[:12]:
        assert debugfs_cat(lv, 0, rel) == content, rel
