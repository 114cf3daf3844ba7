"""Read-only looks at a corpus image from this host: fsck and filesystem sizes through
read-only loop devices (nothing mounted), LV positions from rehost's own LVM parser."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rehost.diskfmt.lvm import read_pv_label, read_volume_group
from rehost.diskfmt.reader import FileDisk

from .cache import run

SECTOR = 512


@contextmanager
def readonly_loop(image: Path, offset: int, size: int) -> Iterator[str]:
    """A read-only loop device over [offset, offset + size) of the image."""
    dev = run("losetup", "-r", "-f", "--show", "-o", str(offset), "--sizelimit", str(size),
              image).strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def fsck(image: Path, offset: int, size: int, fs: str) -> tuple[int, str]:
    """(exit code, output) of the filesystem's checker in its no-change mode."""
    commands = {"ext4": ["e2fsck", "-fn"], "btrfs": ["btrfs", "check", "--readonly"],
                "vfat": ["fsck.vfat", "-n"], "xfs": ["xfs_repair", "-n"]}
    with readonly_loop(image, offset, size) as dev:
        proc = subprocess.run([*commands[fs], dev], capture_output=True, text=True,
                              errors="replace", check=False)
    return proc.returncode, (proc.stdout + proc.stderr)[-3000:]


def assert_clean(image: Path, offset: int, size: int, fs: str, what: str) -> None:
    """The filesystem's checker finds nothing to change."""
    code, output = fsck(image, offset, size, fs)
    assert code == 0, f"{what} ({fs}) not clean: exit {code}\n{output}"


def assert_fills(image: Path, offset: int, size: int, fs: str, what: str, slack: int) -> None:
    """Clean, and grown to within `slack` bytes of the end of its partition or LV."""
    assert_clean(image, offset, size, fs, what)
    grown = fs_size(image, offset, size, fs)
    assert size - slack <= grown <= size, (what, grown, size)


def fs_size(image: Path, offset: int, size: int, fs: str) -> int:
    """The filesystem's own idea of its size in bytes (ext4, XFS or btrfs superblock)."""
    with readonly_loop(image, offset, size) as dev:
        if fs == "xfs":
            text = run("xfs_db", "-r", "-c", "sb 0", "-c", "print dblocks blocksize", dev)
            blocks = re.search(r"^dblocks = (\d+)", text, re.M)
            bsize = re.search(r"^blocksize = (\d+)", text, re.M)
            assert blocks and bsize, text[-1000:]
            return int(blocks.group(1)) * int(bsize.group(1))
        if fs == "ext4":
            text = run("dumpe2fs", "-h", dev)
            count = re.search(r"^Block count:\s+(\d+)", text, re.M)
            block = re.search(r"^Block size:\s+(\d+)", text, re.M)
            assert count and block, text[-1000:]
            return int(count.group(1)) * int(block.group(1))
        text = run("btrfs", "inspect-internal", "dump-super", dev)
        total = re.search(r"^total_bytes\s+(\d+)", text, re.M)
        assert total, text[-1000:]
        return int(total.group(1))


def lv_ranges(image: Path, pv_offset: int) -> dict[str, list[tuple[int, int]]]:
    """LV name -> image byte ranges of its segments (single-PV linear VGs); '<pv>': the PV
    label's range, '<extents>': the range of the PV's extents in the VG metadata."""
    with FileDisk(image) as disk:
        label = read_pv_label(disk, pv_offset)
        vg = read_volume_group(disk, pv_offset, label)
    pv = next(iter(vg.pvs.values()))
    base = pv_offset + pv.pe_start_sectors * SECTOR
    out = {"<pv>": [(pv_offset, label.device_size_bytes)],
           "<extents>": [(base, pv.pe_count * vg.extent_bytes)]}
    for lv in vg.lvs:
        out[lv.name] = [(base + seg.stripes[0][1] * vg.extent_bytes,
                         seg.extent_count * vg.extent_bytes) for seg in lv.segments]
    return out
