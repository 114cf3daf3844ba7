"""ext2/3/4 filesystems inside disk images, through e2fsprogs.

Read-only tools (e2fsck -n, dumpe2fs, debugfs, resize2fs -P) address a filesystem inside an
image as `image?offset=N`. Writing resizes never do: resize2fs on a regular file truncates
(or extends) the *file* to the new filesystem size measured from byte 0, ignoring the offset,
which destroys the partition; see `rehost.imaging.resize` for how a partition is resized.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rehost.imaging.command import run_tool
from rehost.imaging.errors import ToolError


@dataclass(frozen=True, slots=True)
class FsckResult:
    """e2fsck's verdict: exit code 0 clean, 1/2 fixed, 4 errors left, 8+ could not check."""

    returncode: int
    output: str

    @property
    def clean(self) -> bool:
        """True when the filesystem had no errors."""
        return self.returncode == 0


@dataclass(frozen=True, slots=True)
class ExtGeometry:
    """Block size and count from the superblock."""

    block_size: int
    block_count: int

    @property
    def size_bytes(self) -> int:
        """Filesystem size in bytes."""
        return self.block_size * self.block_count


def spec(path: Path, offset_bytes: int) -> str:
    """e2fsprogs device spec for a filesystem at offset inside an image (read-only use)."""
    return f"{path}?offset={offset_bytes}" if offset_bytes else str(path)


def fsck(device: str, *, repair: bool) -> FsckResult:
    """e2fsck -f with -y (repair) or -n (check only)."""
    proc = run_tool(["e2fsck", "-f", "-y" if repair else "-n", device],
                    ok_codes=(0, 1, 2, 4, 8, 12))
    return FsckResult(proc.returncode, proc.stdout + proc.stderr)


def needs_recovery(device: str) -> bool:
    """True when the journal holds transactions not yet written home (a live or crashed fs)."""
    proc = run_tool(["dumpe2fs", "-h", device], ok_codes=(0, 1))
    features = re.search(r"^Filesystem features:(.*)$", proc.stdout, re.M)
    return features is not None and "needs_recovery" in features.group(1).split()


def geometry(device: str) -> ExtGeometry:
    """Block size and count, from dumpe2fs -h."""
    out = run_tool(["dumpe2fs", "-h", device]).stdout
    size = re.search(r"^Block size:\s+(\d+)", out, re.M)
    count = re.search(r"^Block count:\s+(\d+)", out, re.M)
    if size is None or count is None:
        raise ToolError(["dumpe2fs", "-h", device], 0, out)
    return ExtGeometry(int(size.group(1)), int(count.group(1)))


def min_blocks(device: str) -> int:
    """Smallest size resize2fs can shrink the filesystem to, in blocks (resize2fs -P)."""
    out = run_tool(["resize2fs", "-P", device]).stdout
    match = re.search(r"minimum size of the filesystem:\s+(\d+)", out)
    if match is None:
        raise ToolError(["resize2fs", "-P", device], 0, out)
    return int(match.group(1))


def resize_file(fs_file: Path, *, block_count: int) -> None:
    """resize2fs a filesystem that fills a whole regular file (offset 0)."""
    run_tool(["resize2fs", "-f", str(fs_file), str(block_count)])


def read_file(device: str, path: str) -> str | None:
    """A file's text from the filesystem, or None when it does not exist."""
    proc = run_tool(["debugfs", "-R", f"cat {path}", device])
    if "not found" in proc.stderr or "File not found" in proc.stderr:
        return None
    return proc.stdout


def read_bytes(device: str, path: str) -> bytes | None:
    """A file's bytes (debugfs dump), or None when it does not exist."""
    with tempfile.TemporaryDirectory(prefix="rehost-extfs-") as tmp:
        dest = Path(tmp) / "file"
        proc = run_tool(["debugfs", "-R", f"dump {path} {dest}", device])
        if "not found" in proc.stderr or not dest.exists():
            return None
        return dest.read_bytes()


def list_dir(device: str, path: str) -> list[str] | None:
    """Names in a directory (symlinks followed), or None when it does not exist."""
    proc = run_tool(["debugfs", "-R", f"ls -p {path}", device])
    if not proc.stdout.strip():
        return None
    return [name for name, _mode in parse_ls(proc.stdout)]


def parse_ls(out: str) -> list[tuple[str, int]]:
    """(name, st_mode) of each entry `debugfs ls -p` printed, . and .. left out."""
    entries = []
    for line in out.splitlines():
        fields = line.strip().split("/")
        if len(fields) >= 7 and fields[5] not in (".", "..", ""):
            entries.append((fields[5], int(fields[2], 8)))
    return entries
