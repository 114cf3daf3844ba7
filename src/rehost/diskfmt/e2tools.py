"""Optional helpers around e2fsprogs (debugfs, resize2fs) addressing a fs inside an image."""

import os
import re
import shutil
import subprocess

TIMEOUT_S = 60


def image_spec(path: "str | os.PathLike[str]", offset_bytes: int) -> str:
    """e2fsprogs' name for a filesystem at an offset inside an image: `img?offset=N`."""
    return f"{os.fspath(path)}?offset={offset_bytes}" if offset_bytes else os.fspath(path)


def debugfs_cat(path: "str | os.PathLike[str]", offset_bytes: int, file: str) -> "bytes | None":
    """Read one file from an unmounted ext fs with `debugfs -R cat`; None if unavailable."""
    tool = shutil.which("debugfs") or "/sbin/debugfs"
    if not os.path.exists(tool):
        return None
    try:
        proc = subprocess.run(
            [tool, "-R", f"cat {file}", image_spec(path, offset_bytes)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or b"File not found" in proc.stderr:
        return None
    return proc.stdout


def debugfs_list(path: "str | os.PathLike[str]", offset_bytes: int, directory: str) -> "list[str]":
    """Names in a directory of an unmounted ext fs (`debugfs -R 'ls -p'`); [] if unavailable."""
    tool = shutil.which("debugfs") or "/sbin/debugfs"
    try:
        proc = subprocess.run(
            [tool, "-R", f"ls -p {directory}", image_spec(path, offset_bytes)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    # each line: /inode/mode/uid/gid/name/size/
    return [f.split("/")[5] for f in proc.stdout.splitlines() if f.count("/") >= 6]


def resize2fs_min_blocks(path: "str | os.PathLike[str]", offset_bytes: int) -> int:
    """`resize2fs -P`'s estimate in filesystem blocks (raises RuntimeError on failure)."""
    tool = shutil.which("resize2fs") or "/sbin/resize2fs"
    proc = subprocess.run(
        [tool, "-P", image_spec(path, offset_bytes)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=TIMEOUT_S, check=False,
    )
    found = re.search(r"minimum size of the filesystem: (\d+)", proc.stdout)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"resize2fs -P failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return int(found.group(1))
