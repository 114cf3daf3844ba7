"""Lists files on FAT filesystems inside disk images with mtools (nothing is mounted)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rehost.imaging.command import TOOL_ENV, run_tool
from rehost.imaging.errors import ToolError


def list_files(path: Path, *, offset_bytes: int) -> list[str]:
    """All file paths on the FAT filesystem at offset, like "/EFI/BOOT/BOOTX64.EFI"."""
    try:
        out = run_tool(["mdir", "-i", f"{path}@@{offset_bytes}", "-/", "-a", "-b", "::/"]).stdout
    except ToolError:
        return []
    return [line[2:] for line in out.splitlines() if line.startswith("::/")
            and not line.endswith("/")]


def read_bytes(path: Path, *, offset_bytes: int, name: str) -> bytes | None:
    """A file's bytes from the FAT filesystem at offset (mcopy to stdout), None if absent."""
    proc = subprocess.run(["mcopy", "-n", "-i", f"{path}@@{offset_bytes}", f"::{name}", "-"],
                          capture_output=True, env={**os.environ, **TOOL_ENV}, timeout=600,
                          check=False)
    return proc.stdout if proc.returncode == 0 else None
