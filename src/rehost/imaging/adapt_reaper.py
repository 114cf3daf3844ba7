"""Appliances a killed build left behind: guestfish listeners and their QEMU, found and killed.

`guestfish --listen` and virt-v2v run in their own sessions (so a timeout can kill the whole
group), which also means they outlive a server or transit host killed with SIGKILL: a QEMU of
2 GiB keeps writing the old working copy. Before a working copy is discarded (every restart of
a build does that first), every process whose command line names a file in it is killed.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")
GONE_TIMEOUT_S = 10.0


def processes_using(directory: Path, *, proc: Path = PROC) -> list[int]:
    """Pids (not this process) whose command line names `directory` or a path inside it."""
    needle = str(directory).rstrip("/")
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if any(_names(arg, needle) for arg in args):
            found.append(int(entry.name))
    return sorted(found)


def _names(arg: str, needle: str) -> bool:
    """Whether one argument (`-a X`, `file=X,format=raw`) names the directory or a file in it."""
    return any(part == needle or part.startswith(needle + "/")
               for piece in arg.split(",") for part in (piece.split("=", 1)[-1],))


def reap_appliances(directory: Path) -> list[int]:
    """SIGKILL every process using files in `directory`, with its process group when that is
    not ours (virt-v2v's QEMU names only a socket, but shares its group); wait (bounded)."""
    pids = processes_using(directory)
    for pid in pids:
        try:
            group = os.getpgid(pid)
            if group != os.getpgrp():
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    return pids


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie holds no file)."""
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
