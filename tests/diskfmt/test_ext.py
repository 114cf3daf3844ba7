"""ext2/3/4 superblocks and block bitmaps against dumpe2fs, over many mke2fs layouts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from diskfactory import BuiltDisk, PartSpec, dumpe2fs_free_ranges, make_disk, run
from rehost.diskfmt.ext import probe_ext
from rehost.diskfmt.extalloc import allocated_spans, ext_allocation
from rehost.diskfmt.extent import normalize, subtract
from rehost.diskfmt.reader import FileDisk

MIB = 1 << 20

LAYOUTS = {
    "ext4-default": ("ext4", ()),
    "ext4-4k-small-groups": ("ext4", ("-b", "4096", "-g", "2048")),
    "ext4-1k": ("ext4", ("-b", "1024")),
    "ext4-meta_bg": ("ext4", ("-b", "1024", "-O", "meta_bg,^resize_inode")),
    "ext4-32bit-uninit_bg": ("ext4", ("-b", "1024", "-O", "^64bit,^metadata_csum,uninit_bg")),
    "ext4-no-flex_bg": ("ext4", ("-b", "1024", "-O", "^flex_bg")),
    "ext4-sparse_super2": ("ext4", ("-b", "1024", "-O", "sparse_super2")),
    "ext4-bigalloc": ("ext4", ("-b", "1024", "-O", "bigalloc", "-C", "16384")),
    "ext3": ("ext3", ("-b", "1024",)),
    "ext2": ("ext2", ("-b", "1024",)),
}


def _header(path: Path, start: int) -> dict[str, str]:
    out = run("dumpe2fs", "-h", f"{path}?offset={start}")
    return dict(re.findall(r"^([^:\n]+):\s+(.*?)\s*$", out, re.M))


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def ext_disk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> BuiltDisk:
    fs, args = LAYOUTS[request.param]
    spec = PartSpec(fs=fs, files_bytes=6 * MIB, mkfs_args=args, label="t")  # type: ignore[arg-type]
    return make_disk(tmp_path_factory.mktemp(request.param), size_mib=48, table="mbr",
                     parts=(PartSpec(fs="unknown", size_mib=3), spec))


def test_superblock_matches_dumpe2fs(ext_disk: BuiltDisk) -> None:
    part = ext_disk.ext_partitions[0]
    hdr = _header(ext_disk.path, part.start_bytes)
    with FileDisk(ext_disk.path) as disk:
        sb = probe_ext(disk, part.start_bytes)
    assert sb is not None
    assert sb.block_bytes == int(hdr["Block size"])
    assert sb.blocks_count == int(hdr["Block count"])
    assert sb.free_blocks == int(hdr["Free blocks"])
    assert sb.inodes_count == int(hdr["Inode count"])
    assert sb.free_inodes == int(hdr["Free inodes"])
    assert sb.uuid == hdr["Filesystem UUID"]
    assert sb.label == hdr["Filesystem volume name"]
    assert sb.used_bytes == part.used_bytes
    assert sb.fs_name == part.fs
    assert sb.group_count == -(-(sb.blocks_count - sb.first_data_block) // sb.blocks_per_group)


def test_free_ranges_equal_dumpe2fs(ext_disk: BuiltDisk) -> None:
    part = ext_disk.ext_partitions[0]
    with FileDisk(ext_disk.path) as disk:
        sb = probe_ext(disk, part.start_bytes)
        assert sb is not None
        alloc = ext_allocation(disk, part.start_bytes, sb)
        used = allocated_spans(disk, part.start_bytes, sb)
    expected = normalize(dumpe2fs_free_ranges(ext_disk.path, part.start_bytes))
    assert alloc.notes == ()
    assert list(alloc.free_spans) == expected
    fs_range = [(part.start_bytes, part.start_bytes + sb.size_bytes)]
    assert used == subtract(fs_range, expected)


def test_block_uninit_groups_are_exercised(ext_disk: BuiltDisk) -> None:
    """Layouts with group checksums must include BLOCK_UNINIT groups (stale bitmaps)."""
    from rehost.diskfmt.extgroups import BG_BLOCK_UNINIT, read_group_descs

    part = ext_disk.ext_partitions[0]
    with FileDisk(ext_disk.path) as disk:
        sb = probe_ext(disk, part.start_bytes)
        assert sb is not None
        descs = read_group_descs(disk, part.start_bytes, sb)
    if sb.has_group_csum and sb.group_count > 2:
        assert any(d.flags & BG_BLOCK_UNINIT for d in descs)


def test_bitmap_disagreeing_with_free_count_copies_group_whole(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=24, table="gpt",
                     parts=(PartSpec(fs="ext4", files_bytes=MIB, mkfs_args=("-b", "1024")),))
    part = disk.ext_partitions[0]
    with FileDisk(disk.path) as fd:
        sb = probe_ext(fd, part.start_bytes)
        assert sb is not None
        from rehost.diskfmt.extgroups import read_group_descs
        bitmap_block = read_group_descs(fd, part.start_bytes, sb)[0].block_bitmap
    with disk.path.open("r+b") as f:  # clear a byte of group 0's bitmap: 8 blocks "free"
        f.seek(part.start_bytes + bitmap_block * sb.block_bytes + 8)
        f.write(b"\0")
    with FileDisk(disk.path) as fd:
        alloc = ext_allocation(fd, part.start_bytes, sb)
    assert any("group 0" in n for n in alloc.notes)
    group0 = (part.start_bytes + sb.first_data_block * 1024,
              part.start_bytes + (sb.first_data_block + sb.blocks_per_group) * 1024)
    assert all(e <= group0[0] or s >= group0[1] for s, e in alloc.free_spans)


def test_min_blocks_equal_resize2fs_estimate(ext_disk: BuiltDisk) -> None:
    from rehost.diskfmt.e2tools import resize2fs_min_blocks
    from rehost.diskfmt.extgroups import read_group_descs
    from rehost.diskfmt.extminsize import min_fs_blocks

    part = ext_disk.ext_partitions[0]
    with FileDisk(ext_disk.path) as disk:
        sb = probe_ext(disk, part.start_bytes)
        assert sb is not None
        ours = min_fs_blocks(sb, read_group_descs(disk, part.start_bytes, sb))
    if sb.cluster_bytes > sb.block_bytes:
        assert ours == sb.blocks_count  # bigalloc is never shrunk
    else:
        assert ours == resize2fs_min_blocks(ext_disk.path, part.start_bytes)


def test_plan_skips_never_used_inode_tables_as_dumpe2fs_reports_them(tmp_path: Path) -> None:
    """Inode-table blocks past `itable_unused` (stale data under lazy_itable_init) are not
    sent; the copy without them is clean and every file reads back."""
    from diskfactory import copy_planned, dumpe2fs_unused_itable_ranges, e2fsck_all
    from rehost.diskfmt import plan_extents
    from rehost.diskfmt.e2tools import debugfs_cat
    from rehost.diskfmt.extent import intersect

    spec = PartSpec(fs="ext4", files_bytes=4 * MIB, mkfs_args=("-N", "16384"))
    disk = make_disk(tmp_path, size_mib=64, table="gpt", parts=(spec,))
    part = disk.ext_partitions[0]
    unused = normalize(dumpe2fs_unused_itable_ranges(disk.path, part.start_bytes))
    assert sum(e - s for s, e in unused) >= 2 * MIB  # the layout really has such blocks
    extents = plan_extents(disk.path)
    planned = normalize([(e.offset_bytes, e.offset_bytes + e.length_bytes) for e in extents])
    overlap = intersect(planned, unused)  # extents keep 4 KiB alignment at their edges
    assert all(e - s < 4096 for s, e in overlap), overlap
    assert sum(e - s for s, e in overlap) < 2 * 4096 * len(unused)
    target = tmp_path / "target.img"
    copy_planned(disk.path, target, extents)
    assert all(rc == 0 for rc, _ in e2fsck_all(disk, target).values())
    for name, content in part.files.items():
        assert debugfs_cat(target, part.start_bytes, f"/{name}") == content


def test_unused_inode_tables_are_sent_while_the_fs_is_not_quiescent(tmp_path: Path) -> None:
    """Mounted without a journal (VALID_FS cleared) the descriptors may change under the
    copy: every inode-table block stays in the plan."""
    from rehost.diskfmt.extalloc import unused_inode_tables
    from rehost.diskfmt.extgroups import read_group_descs

    spec = PartSpec(fs="ext4", files_bytes=MIB)
    disk = make_disk(tmp_path, size_mib=48, table="gpt", parts=(spec,))
    part = disk.ext_partitions[0]
    with FileDisk(disk.path) as fd:
        sb = probe_ext(fd, part.start_bytes)
        assert sb is not None and sb.quiescent
        tails = unused_inode_tables(sb, read_group_descs(fd, part.start_bytes, sb))
        assert tails
        bs = sb.block_bytes
        tail_bytes = [(part.start_bytes + a * bs, part.start_bytes + b * bs) for a, b in tails]
        quiet = ext_allocation(fd, part.start_bytes, sb, skip_unused_inodes=True)
        live = ext_allocation(fd, part.start_bytes, sb._replace(state=0),
                              skip_unused_inodes=True)
        baseline = ext_allocation(fd, part.start_bytes, sb)
    assert subtract(tail_bytes, list(quiet.free_spans)) == []
    assert live.free_spans == baseline.free_spans
