"""Plans of ext4 filesystems whose journal still needs replay (mounted, live servers)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from diskfactory import copy_planned, run
from rehost.diskfmt import Extent, describe_plan
from rehost.diskfmt.e2tools import debugfs_cat
from rehost.diskfmt.ext import probe_ext
from rehost.diskfmt.extalloc import ext_allocation
from rehost.diskfmt.extjournal import journal_overlay
from rehost.diskfmt.holes import data_spans
from rehost.diskfmt.jbd2 import (
    FLAG_ESCAPE,
    FLAG_LAST_TAG,
    FLAG_SAME_UUID,
    INCOMPAT_CSUM_V3,
    JBD2_MAGIC,
    JBD2_MAGIC_BYTES,
    JournalSuper,
    parse_descriptor,
    unescape,
)
from rehost.diskfmt.reader import FileDisk

MIB = 1 << 20


def _stale_image(path: Path, size_mib: int, mkfs: tuple[str, ...]) -> None:
    """An ext image over random bytes, so free space is stale data, not holes."""
    with path.open("wb") as f:
        f.write(os.urandom(size_mib * MIB))
    run(*mkfs, "-q", "-F", "-E", "nodiscard", path)


def _planned(extents: tuple[Extent, ...], start: int, end: int) -> bool:
    """True when [start, end) lies inside the planned extents."""
    covered = sum(max(0, min(end, e.end_bytes) - max(start, e.offset_bytes)) for e in extents)
    return covered == end - start


def _fsck(path: Path) -> int:
    """`e2fsck -fy` (replays the journal); its exit code."""
    return subprocess.run(["e2fsck", "-fy", str(path)], capture_output=True,
                          check=False).returncode


def _file_blocks(path: Path, name: str) -> list[int]:
    """Filesystem blocks of a file, from debugfs."""
    return [int(b) for b in run("debugfs", "-R", f"blocks /{name}", path).split()]


def _need_root() -> None:
    """Loop mounts need root; fail rather than skip under CI."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("loop-mount test needs root under CI")
        pytest.skip("needs root for mount -o loop")


def _write_files(root: Path) -> dict[str, bytes]:
    """Files of assorted sizes written through the mounted fs, each fsynced (committed)."""
    files = {f"big{i}": os.urandom(size) for i, size in enumerate((3 * MIB, MIB, 17000))}
    (root / "d").mkdir()
    files.update({f"d/s{i}": os.urandom(300 + 97 * i) for i in range(60)})
    for name, data in files.items():
        with (root / name).open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    for directory in (root, root / "d"):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return files


LIVE_CASES = {  # mkfs command, how the writes were committed
    "ext4-4k-fsync": (("mkfs.ext4", "-b", "4096"), "fsync"),
    "ext4-1k-fsync": (("mkfs.ext4", "-b", "1024"), "fsync"),
    "ext4-4k-sync": (("mkfs.ext4", "-b", "4096"), "sync"),
    # indirect-mapped journal inode and 8-byte tags (no 64bit, no checksums)
    "ext3-fsync": (("mkfs.ext3",), "fsync"),
    "ext4-32bit-nocsum-fsync": (("mkfs.ext4", "-O", "^64bit,^metadata_csum"), "fsync"),
}


@pytest.fixture(params=sorted(LIVE_CASES))
def live_snapshot(request: pytest.FixtureRequest, tmp_path: Path
                  ) -> Iterator[tuple[Path, dict[str, bytes], bool]]:
    """A byte copy of an ext4 image taken while mounted, after writes were committed.

    fsync commits to the journal but leaves the bitmaps' home copies dirty in the page
    cache, so the image's on-disk bitmaps lag; `sync` also writes those home.
    """
    _need_root()
    mkfs, how = LIVE_CASES[request.param]
    img, mnt, snap = tmp_path / "live.img", tmp_path / "mnt", tmp_path / "snap.img"
    _stale_image(img, 48, mkfs)
    mnt.mkdir()
    run("mount", "-o", "loop", img, mnt)
    try:
        files = _write_files(mnt)
        if how == "sync":
            os.sync()
        shutil.copyfile(img, snap)
    finally:
        run("umount", mnt)
    yield snap, files, how == "fsync"


def _called_free(snap: Path, blocks: list[int], bs: int) -> int:
    """How many of `blocks` the on-disk bitmaps alone (no journal) call free."""
    with FileDisk(snap) as disk:
        sb = probe_ext(disk, 0)
        assert sb is not None
        free = ext_allocation(disk, 0, sb).free_spans
    return sum(1 for b in blocks if any(s <= b * bs < e for s, e in free))


def test_mounted_fs_plan_is_small_and_replays_to_identical_files(
    live_snapshot: tuple[Path, dict[str, bytes], bool], tmp_path: Path
) -> None:
    snap, files, lagging = live_snapshot
    with FileDisk(snap) as disk:
        sb = probe_ext(disk, 0)
    assert sb is not None and sb.needs_recovery  # still mounted when copied
    plan = describe_plan(snap)
    assert any("journal replay pending" in n for n in plan.notes), plan.notes
    assert plan.planned_bytes < plan.disk_size_bytes * 0.4
    replayed = tmp_path / "replayed.img"
    shutil.copyfile(snap, replayed)
    assert _fsck(replayed) in (0, 1)
    bs = sb.block_bytes
    blocks = [b for name in files for b in _file_blocks(replayed, name)]
    for block in blocks:  # every block of every file, as the replay leaves it, is planned
        assert _planned(plan.extents, block * bs, (block + 1) * bs), block
    if lagging:  # the case this is all about: the on-disk bitmaps alone would lose data
        assert _called_free(snap, blocks, bs) > 0
    target = tmp_path / "target.img"
    copy_planned(snap, target, plan.extents)
    assert _fsck(target) in (0, 1)
    assert _fsck(target) == 0  # clean after the replay
    for name, content in files.items():
        assert debugfs_cat(target, 0, f"/{name}") == content, name


def _bitmap_block(img: Path, group: int) -> int:
    """Block bitmap location of a group, from dumpe2fs."""
    out = run("dumpe2fs", img)
    found = re.findall(r"Block bitmap at (\d+)", out)
    return int(found[group])


def _journal(img: Path, blocks: dict[int, bytes], tmp_path: Path) -> None:
    """Log one committed transaction writing `blocks` with debugfs (leaves needs_recovery)."""
    cmds = ["jo"]
    for n, (target, data) in enumerate(blocks.items()):
        src = tmp_path / f"blk{n}"
        src.write_bytes(data)
        cmds.append(f"jw -b {target} {src}")
    cmds.append("jc")
    script = tmp_path / "cmds"
    script.write_text("\n".join(cmds) + "\n")
    run("debugfs", "-w", "-f", script, img)


def _with_bits(raw: bytes, bits: range) -> bytes:
    """A bitmap block with extra bits set."""
    out = bytearray(raw)
    for i in bits:
        out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _read_block(img: Path, block: int, bs: int = 1024) -> bytes:
    with img.open("rb") as f:
        f.seek(block * bs)
        return f.read(bs)


@pytest.fixture
def small_image(tmp_path: Path) -> Path:
    """A 32 MiB ext4 with 1 KiB blocks (group 1 is BLOCK_UNINIT) over stale bytes."""
    img = tmp_path / "small.img"
    _stale_image(img, 32, ("mkfs.ext4", "-b", "1024"))
    return img


def test_newer_bitmap_in_the_journal_is_planned(small_image: Path, tmp_path: Path) -> None:
    bitmap = _bitmap_block(small_image, 0)
    _journal(small_image, {bitmap: _with_bits(_read_block(small_image, bitmap),
                                              range(4000, 4300))}, tmp_path)
    with FileDisk(small_image) as disk:
        sb = probe_ext(disk, 0)
        assert sb is not None and sb.needs_recovery
        on_disk = ext_allocation(disk, 0, sb).free_spans  # without the journal: free
    assert any(s <= 4001 * 1024 and e >= 4301 * 1024 for s, e in on_disk)
    plan = describe_plan(small_image)
    assert "journal replay pending: 1 bitmap copies from the journal merged" in plan.notes[0]
    assert _planned(plan.extents, 4001 * 1024, 4301 * 1024)


def _gdt_with_group1_initialized(img: Path) -> bytes:
    """Descriptor block 2 with group 1's BLOCK_UNINIT cleared, as the kernel logs it."""
    gdt = bytearray(_read_block(img, 2))
    flags = struct.unpack_from("<H", gdt, 64 + 0x12)[0]
    struct.pack_into("<H", gdt, 64 + 0x12, flags & ~0x2)
    return bytes(gdt)


def test_uninit_group_with_a_journaled_bitmap_is_planned(small_image: Path,
                                                         tmp_path: Path) -> None:
    assert "BLOCK_UNINIT" in run("dumpe2fs", small_image).split("Group 1:")[1].split("\n")[0]
    bitmap = _bitmap_block(small_image, 1)
    _journal(small_image, {2: _gdt_with_group1_initialized(small_image),
                           bitmap: _with_bits(bytes(1024), range(1000, 1400))}, tmp_path)
    with FileDisk(small_image) as disk:
        sb = probe_ext(disk, 0)
        assert sb is not None
        overlay = journal_overlay(disk, 0, sb)
    assert 1 in overlay.init_groups and len(overlay.bitmap_copies) == 1
    plan = describe_plan(small_image)
    first = 8193 + 1000
    assert _planned(plan.extents, first * 1024, (first + 400) * 1024)
    assert _planned(plan.extents, 8193 * 1024, 8194 * 1024)  # group 1's backup superblock


def test_journaled_descriptors_keeping_block_uninit_use_no_stale_bitmap(
    small_image: Path, tmp_path: Path
) -> None:
    _journal(small_image, {2: _read_block(small_image, 2)}, tmp_path)  # all flags unchanged
    with FileDisk(small_image) as disk:
        sb = probe_ext(disk, 0)
        assert sb is not None
        assert 1 not in journal_overlay(disk, 0, sb).init_groups
    plan = describe_plan(small_image)  # group 1's never-written bitmap is random: unused
    assert not _planned(plan.extents, 9000 * 1024, 9100 * 1024)


def _corrupt(img: Path, offset: int, data: bytes) -> None:
    with img.open("r+b") as f:
        f.seek(offset)
        f.write(data)


@pytest.mark.parametrize("damage", ["superblock", "tag"])
def test_unreadable_journal_copies_the_fs_whole(small_image: Path, tmp_path: Path,
                                               damage: str) -> None:
    bitmap = _bitmap_block(small_image, 0)
    _journal(small_image, {bitmap: _read_block(small_image, bitmap)}, tmp_path)
    logical = 0 if damage == "superblock" else 1
    phys = int(run("debugfs", "-R", f"bmap <8> {logical}", small_image).split()[0])
    if damage == "superblock":
        _corrupt(small_image, phys * 1024, b"\0\0\0\0")
    else:  # the first tag's high 32 bits (64-bit journal): far beyond the filesystem
        _corrupt(small_image, phys * 1024 + 20, struct.pack(">I", 0x7FFF))
    plan = describe_plan(small_image)
    assert any("cannot be read" in n and "copied whole" in n for n in plan.notes), plan.notes
    with small_image.open("rb") as f:  # every non-hole byte is sent
        data = data_spans(f.fileno(), plan.disk_size_bytes)
    assert all(_planned(plan.extents, s, e) for s, e in data)


def _descriptor(tags: list[tuple[int, int]], v3: bool) -> bytes:
    """A descriptor block: first tag carries a UUID, the rest SAME_UUID; garbage after."""
    raw = bytearray(struct.pack(">III", JBD2_MAGIC, 1, 7))
    for n, (target, flags) in enumerate(tags):
        flags |= 0 if n == 0 else FLAG_SAME_UUID
        raw += (struct.pack(">III", target, flags, 0) + b"\0" * 4 if v3
                else struct.pack(">IHH", target, 0, flags))
        raw += b"U" * 16 if n == 0 else b""
    raw += struct.pack(">I", 99999) * 20  # would be tags if LAST_TAG were ignored
    return bytes(raw.ljust(1024, b"\xff"))


@pytest.mark.parametrize("v3", [True, False], ids=["csum-v3", "plain"])
def test_descriptor_tags_wrap_escape_and_stop_at_last_tag(v3: bool) -> None:
    js = JournalSuper(block_bytes=1024, max_len=100, first=1, sequence=7, start=1,
                      incompat=INCOMPAT_CSUM_V3 if v3 else 0)
    raw = _descriptor([(500, 0), (600, FLAG_ESCAPE), (700, FLAG_LAST_TAG)], v3)
    tags = parse_descriptor(js, raw, 98)
    assert [(t.target, t.log_block, t.escaped) for t in tags] == [
        (500, 99, False), (600, 1, True), (700, 2, False)]
    assert unescape(b"\0" * 4 + b"rest", tags[1]) == JBD2_MAGIC_BYTES + b"rest"
    assert unescape(b"\0" * 4 + b"rest", tags[0]) == b"\0" * 4 + b"rest"
