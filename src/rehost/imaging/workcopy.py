"""The build's working copy: received disks cloned (reflink) or sparse-copied before any change.

Every build step (resize, adaptation, checks, conversion) runs on the copy, so a crash at any
instant leaves the received disks untouched and the build simply starts again from them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from rehost.imaging.adapt_reaper import reap_appliances
from rehost.imaging.sparse import copy_range_out

WORK_DIR_NAME = "build"
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_NO_REFLINK = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS,
               errno.EPERM}


def clone_file(src: Path, dst: Path) -> str:
    """dst becomes a copy of src: a reflink when the filesystem shares extents, else sparse."""
    with src.open("rb") as source, dst.open("wb") as target:
        try:
            fcntl.ioctl(target.fileno(), FICLONE, source.fileno())
            return "reflink"
        except OSError as exc:
            if exc.errno not in _NO_REFLINK:
                raise
    copy_range_out(src, offset_bytes=0, length_bytes=src.stat().st_size, dest=dst)
    return "sparse copy"


def fresh_working_copy(work_dir: Path, names: Sequence[str]) -> tuple[Path, str]:
    """Discard any half-built copy in work_dir/build and clone the named disks into it anew."""
    build_dir = work_dir / WORK_DIR_NAME
    discard_working_copy(work_dir)
    build_dir.mkdir()
    methods = {clone_file(work_dir / name, build_dir / name) for name in names}
    return build_dir, " + ".join(sorted(methods)) or "nothing to copy"


def discard_working_copy(work_dir: Path) -> None:
    """Remove work_dir/build (what a crashed or finished build left); received disks stay."""
    build_dir = work_dir / WORK_DIR_NAME
    reap_appliances(build_dir)  # a killed build's libguestfs QEMU would write on
    if build_dir.is_symlink() or build_dir.is_file():
        os.unlink(build_dir)
    shutil.rmtree(build_dir, ignore_errors=True)
