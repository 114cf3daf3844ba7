"""Bad input in LVM/XFS/btrfs/FAT volumes: the plan falls back to whole copies with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskfactory import MIB
from fslayouts import LayoutDisk, make_lvm_disk, make_single_fs_disk
from rehost.diskfmt import DiskFormatError, describe_plan
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
    fs = xfs_disk.filesystems["xfs"]
    half = xfs_disk.size_bytes // 2
    assert plan.notes == (f"partition 1 (xfs): ends at byte {fs.start_bytes + fs.size_bytes}, "
                          f"{fs.start_bytes + fs.size_bytes - half} bytes beyond the end of the "
                          f"disk ({half} bytes; truncated disk?); the {half - fs.start_bytes} "
                          "bytes present are copied whole",)
    assert plan.extents[-1].end_bytes == half  # stale data and all, to the end
    assert plan.planned_bytes >= half - fs.start_bytes


def test_truncated_lvm_disk_copies_the_pv_whole(lvm_disk: LayoutDisk, tmp_path: Path) -> None:
    short = tmp_path / "short.img"
    shutil.copyfile(lvm_disk.path, short)
    cut = _pv_start(lvm_disk) + 64 * MIB  # inside the root LV
    with short.open("r+b") as f:
        f.truncate(cut)
    plan = describe_plan(short)
    assert len(plan.notes) == 1 and plan.notes[0].startswith("partition 2 (LVM2_member): ends")
    assert f"the {64 * MIB} bytes present are copied whole" in plan.notes[0]
    assert plan.planned_bytes >= 64 * MIB


def test_partition_wholly_past_the_end_sends_nothing_of_it(lvm_disk: LayoutDisk,
                                                            tmp_path: Path) -> None:
    short = tmp_path / "short.img"
    shutil.copyfile(lvm_disk.path, short)
    with short.open("r+b") as f:
        f.truncate(_pv_start(lvm_disk))  # the table still lists the PV partition
    plan = describe_plan(short)
    assert plan.notes == (f"partition 2: starts at byte {_pv_start(lvm_disk)}, "
                          f"beyond the end of the disk ({_pv_start(lvm_disk)} bytes; truncated "
                          "disk?); nothing to copy",)


@pytest.mark.parametrize(("at", "data", "why"), [
    (0x40, b"_BHRfX_M", "partition 1: no filesystem recognised"),  # the magic
    (0x50, (1 << 62).to_bytes(8, "little"),  # the root tree's address, off every chunk
     "partition 1 (btrfs): btrfs tree block at logical 4611686018427387904 is not on this "
     "device"),
    (0xA0, (0xFFFF).to_bytes(4, "little"),  # sys_chunk_array_size past the superblock
     "partition 1 (btrfs): btrfs superblock is inconsistent"),
])
def test_btrfs_bad_superblock_is_copied_whole(btrfs_disk: LayoutDisk, tmp_path: Path, at: int,
                                              data: bytes, why: str) -> None:
    fs = btrfs_disk.filesystems["btrfs"]
    bad = _poke(btrfs_disk.path, tmp_path / "bad.img", fs.start_bytes + 0x10000 + at, data)
    plan = describe_plan(bad)
    assert plan.notes == (f"{why}; copied whole",)
    assert plan.planned_bytes >= fs.size_bytes


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
_FAST = settings(max_examples=60, deadline=None, derandomize=True,
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


class _Truncated:
    """A disk reader that ends at `cut` (reads past it come back short, as from a file)."""

    def __init__(self, base: FileDisk, cut: int) -> None:
        self.base = base
        self.cut = cut

    @property
    def size_bytes(self) -> int:
        return self.cut

    def read_at(self, offset: int, length: int) -> bytes:
        return self.base.read_at(offset, max(0, min(length, self.cut - offset)))


@_FAST
@given(fraction=st.floats(0.0, 1.0))
def test_fuzzed_truncation_never_crashes_and_is_named(lvm_disk: LayoutDisk, xfs_disk: LayoutDisk,
                                                      fraction: float) -> None:
    for disk in (lvm_disk, xfs_disk):
        cut = int(disk.size_bytes * fraction) // 512 * 512
        with FileDisk(disk.path) as base:
            reader = _Truncated(base, cut)
            try:
                layout = inspect_disk(reader)
            except DiskFormatError as exc:  # cut inside the partition table: named, whole copy
                assert cut < 64 * 1024 and str(exc)
                continue
            notes: list[str] = []
            free = _free_spans(reader, layout, notes)  # must not raise
        assert all(0 <= s <= e <= cut for s, e in free)
        for vol in layout.volumes:  # every volume the cut reaches into is named as such
            if vol.start_bytes < cut < vol.end_bytes:
                assert any(n.startswith(f"partition {vol.number}") and "truncated disk?" in n
                           for n in notes), notes
