"""Bad input in LVM/XFS/btrfs/FAT volumes: the plan falls back to whole copies with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskfactory import MIB
from fslayouts import LayoutDisk, make_lvm_disk, make_single_fs_disk
from rehost.diskfmt import describe_plan
from rehost.diskfmt.layout import inspect_disk
from rehost.diskfmt.plan import _free_spans
from rehost.diskfmt.reader import FileDisk


@pytest.fixture(scope="module")
def lvm_disk(tmp_path_factory: pytest.TempPathFactory) -> LayoutDisk:
    return make_lvm_disk(tmp_path_factory.mktemp("bad-lvm"), files_bytes=4 * MIB)


@pytest.fixture(scope="module")
def xfs_disk(tmp_path_factory: pytest.TempPathFactory) -> LayoutDisk:
    return make_single_fs_disk(tmp_path_factory.mktemp("bad-xfs"), "xfs", files_bytes=4 * MIB)


@pytest.fixture(scope="module")
def btrfs_disk(tmp_path_factory: pytest.TempPathFactory) -> LayoutDisk:
    return make_single_fs_disk(tmp_path_factory.mktemp("bad-btrfs"), "btrfs",
                               files_bytes=4 * MIB)


def _poke(src: Path, dst: Path, offset: int, data: bytes) -> Path:
    shutil.copyfile(src, dst)
    with dst.open("r+b") as f:
        f.seek(offset)
        f.write(data)
    return dst


def _pv_start(disk: LayoutDisk) -> int:
    return disk.filesystems["boot"].start_bytes + disk.filesystems["boot"].size_bytes


def test_corrupt_lvm_metadata_copies_the_pv_whole(lvm_disk: LayoutDisk, tmp_path: Path) -> None:
    start = _pv_start(lvm_disk)
    with lvm_disk.path.open("rb") as f:
        f.seek(start)
        head = f.read(MIB)
    at = start + head.rindex(b"logical_volumes")  # the newest copy
    bad = _poke(lvm_disk.path, tmp_path / "bad.img", at, b"LOGICAL")
    plan = describe_plan(bad)
    assert plan.notes == ("partition 2 (LVM2_member): no readable LVM metadata (LVM metadata "
                          "area at byte 4096: text checksum mismatch); copied whole",)
    pv_end = start + (lvm_disk.size_bytes - start - MIB)
    covered = sum(max(0, min(e.end_bytes, pv_end) - max(e.offset_bytes, start))
                  for e in plan.extents)
    assert covered == pv_end - start  # stale data and all: nothing is lost


def test_xfs_bad_magic_is_copied_whole(xfs_disk: LayoutDisk, tmp_path: Path) -> None:
    fs = xfs_disk.filesystems["xfs"]
    plan = describe_plan(_poke(xfs_disk.path, tmp_path / "bad.img", fs.start_bytes, b"XFSX"))
    assert plan.notes == ("partition 1: no filesystem recognised; copied whole",)
    assert plan.planned_bytes >= fs.size_bytes


def test_xfs_bad_agf_is_copied_whole(xfs_disk: LayoutDisk, tmp_path: Path) -> None:
    fs = xfs_disk.filesystems["xfs"]
    with xfs_disk.path.open("rb") as f:
        f.seek(fs.start_bytes)
        sb = f.read(512)
    ag_bytes = int.from_bytes(sb[84:88], "big") * int.from_bytes(sb[4:8], "big")
    agf = fs.start_bytes + ag_bytes + int.from_bytes(sb[102:104], "big")
    plan = describe_plan(_poke(xfs_disk.path, tmp_path / "bad.img", agf, b"XAGX"))
    assert plan.notes == ("partition 1 (xfs): XFS AGF 1 has a bad magic; copied whole",)


def test_truncated_disk_is_copied_whole(xfs_disk: LayoutDisk, tmp_path: Path) -> None:
    short = tmp_path / "short.img"
    shutil.copyfile(xfs_disk.path, short)
    with short.open("r+b") as f:
        f.truncate(xfs_disk.size_bytes // 2)
    plan = describe_plan(short)
    assert plan.notes[-1] == ("partition 1 (xfs): XFS filesystem is larger than its volume "
                              "(truncated disk?); copied whole")


class _Corrupted:
    """A disk reader that returns `patches` instead of the bytes underneath."""

    def __init__(self, base: FileDisk, patches: dict[int, int]) -> None:
        self.base = base
        self.patches = patches

    @property
    def size_bytes(self) -> int:
        return self.base.size_bytes

    def read_at(self, offset: int, length: int) -> bytes:
        data = bytearray(self.base.read_at(offset, length))
        for at, value in self.patches.items():
            if offset <= at < offset + len(data):
                data[at - offset] = value
        return bytes(data)


def _fuzz(disk: LayoutDisk, start: int, span: int, patches: list[tuple[int, int]]) -> None:
    with FileDisk(disk.path) as base:
        reader = _Corrupted(base, {start + at % span: v for at, v in patches})
        notes: list[str] = []
        free = _free_spans(reader, inspect_disk(reader), notes)  # must not raise
        assert all(0 <= s <= e <= disk.size_bytes for s, e in free)


_PATCHES = st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)), min_size=1,
                    max_size=8)
_FAST = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FAST
@given(patches=_PATCHES)
def test_fuzzed_lvm_header_never_crashes(lvm_disk: LayoutDisk,
                                         patches: list[tuple[int, int]]) -> None:
    _fuzz(lvm_disk, _pv_start(lvm_disk), 12 << 10, patches)


@_FAST
@given(patches=_PATCHES)
def test_fuzzed_xfs_metadata_never_crashes(xfs_disk: LayoutDisk,
                                           patches: list[tuple[int, int]]) -> None:
    _fuzz(xfs_disk, xfs_disk.filesystems["xfs"].start_bytes, 64 << 10, patches)


@_FAST
@given(patches=_PATCHES)
def test_fuzzed_btrfs_metadata_never_crashes(btrfs_disk: LayoutDisk,
                                             patches: list[tuple[int, int]]) -> None:
    _fuzz(btrfs_disk, btrfs_disk.filesystems["btrfs"].start_bytes, 4 << 20, patches)
