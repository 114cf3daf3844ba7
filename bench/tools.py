"""Reference tools timed on the same disk: rsync over TCP, qemu-img convert, e2image -ra."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PART_START = 1024 * 1024


@dataclass(frozen=True)
class ToolTime:
    """Wall time of a tool alone, and until its output is durable (fsync of the output)."""

    alone_s: float
    synced_s: float


def timed(cmd: list[str], output: Path) -> ToolTime:
    """Run a command, then fsync its output file; return both wall times."""
    os.sync()  # start every tool with no writeback pending
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    alone = time.perf_counter() - started
    fd = os.open(output, os.O_RDONLY)
    try:
        os.fsync(fd)  # what rehost does before it acknowledges a chunk
    finally:
        os.close(fd)
    return ToolTime(alone, time.perf_counter() - started)


def time_qemu_img(disk: Path, work: Path) -> ToolTime:
    """qemu-img convert raw -> raw (it skips zeros, copies stale free space)."""
    out = _fresh(work) / "out.img"
    try:
        return timed(["qemu-img", "convert", "-f", "raw", "-O", "raw", str(disk), str(out)], out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def time_e2image(disk: Path, work: Path) -> ToolTime:
    """e2image -ra: copies only the ext4 partition's used blocks, locally."""
    out = _fresh(work) / "out.img"
    try:
        return timed(["e2image", "-ra", "-o", str(PART_START), "-O", str(PART_START),
                      str(disk), str(out)], out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def time_rsync(disk: Path, work: Path) -> ToolTime:
    """rsync --whole-file to an rsync daemon on 127.0.0.1 (plain TCP, no encryption)."""
    try:
        with rsync_daemon(_fresh(work)) as (url, dest):
            return timed(["rsync", "--whole-file", str(disk), url], dest / disk.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def rsync_daemon(base: Path) -> Iterator[tuple[str, Path]]:
    """An rsync daemon on a free loopback port; yields (module URL, its folder)."""
    dest = base / "dest"
    dest.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    conf = base / "rsyncd.conf"
    conf.write_text(f"use chroot = no\npid file = {base}/rsyncd.pid\n"
                    f"[dst]\npath = {dest}\nread only = no\nuid = root\ngid = root\n")
    daemon = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}",
                               f"--port={port}", "--address=127.0.0.1"])
    try:
        _wait_port(port)
        yield f"rsync://127.0.0.1:{port}/dst/", dest
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def _fresh(work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("rsync daemon did not start")
