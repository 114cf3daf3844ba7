"""Publishing works when the transit's disks and the image store are on different file systems."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rehost.storage.local import copy_sparse


@pytest.fixture
def tmpfs_dir(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs: another file system than tmp_path's (root only)."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root; the cross-file-system test needs root to mount tmpfs")
        pytest.skip("needs root to mount a tmpfs")
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_copy_sparse_across_file_systems_keeps_bytes_and_holes(
    tmpfs_dir: Path, tmp_path: Path
) -> None:
    src = tmpfs_dir / "disk-0.raw"
    with src.open("wb") as f:
        f.truncate(32 * 1024 * 1024)
        f.seek(1024 * 1024)
        f.write(os.urandom(3 * 1024 * 1024 + 17))
        f.seek(20 * 1024 * 1024)
        f.write(b"tail" * 1000)
    assert os.stat(src).st_dev != os.stat(tmp_path).st_dev
    dst = tmp_path / "copy.raw"
    copy_sparse(src, dst)
    assert dst.read_bytes() == src.read_bytes()
    assert dst.stat().st_blocks * 512 < 8 * 1024 * 1024  # holes stayed holes
