"""Lists files on FAT filesystems inside disk images with mtools (nothing is mounted)."""

from __future__ import annotations

from pathlib import Path

from rehost.imaging.command import run_tool
from rehost.imaging.errors import ToolError


def list_files(path: Path, *, offset_bytes: int) -> list[str]:
    """All file paths on the FAT filesystem at offset, like "/EFI/BOOT/BOOTX64.EFI"."""
    try:
        out = run_tool(["mdir", "-i", f"{path}@@{offset_bytes}", "-/", "-a", "-b", "::/"]).stdout
    except ToolError:
        return []
    return [line[2:] for line in out.splitlines() if line.startswith("::/")
            and not line.endswith("/")]
