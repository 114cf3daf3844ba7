"""Reference tools on the reference disk, each timed until its output is durable.

Every anchor starts from a cold page cache (when the bench may drop it) and ends with an fsync
of what it wrote, as rehost does before it acknowledges data: e2image -ra (used ext4 blocks,
local), partclone.ext4 | zstd -1 | socat over TCP to partclone's restore, qemu-img convert
(raw to raw), rsync --whole-file to an rsync daemon over TCP.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench import tools
from bench.e2e_procs import drop_caches, free_port_pair, wait_listening

PART_START = tools.PART_START


def _fsync(path: Path) -> None:
    subprocess.run(["sync", str(path)], check=True)


def _timed(run: Callable[[], Path]) -> float:
    drop_caches()
    started = time.perf_counter()
    out = run()
    _fsync(out)
    return time.perf_counter() - started


@contextlib.contextmanager
def _partition_device(disk: Path) -> Iterator[tuple[str, int]]:
    """The reference disk's ext4 partition as a read-only loop device (offset + size limit:
    containers often have no udev to create the partition nodes of --partscan)."""
    table = json.loads(subprocess.run(["sfdisk", "-J", str(disk)], check=True,
                                      capture_output=True, text=True).stdout)
    part = table["partitiontable"]["partitions"][0]
    dev = subprocess.run(["losetup", "--find", "--show", "--read-only",
                          "--offset", str(part["start"] * 512),
                          "--sizelimit", str(part["size"] * 512), str(disk)],
                         check=True, capture_output=True, text=True).stdout.strip()
    try:
        yield dev, part["size"] * 512
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def e2image(disk: Path, work: Path) -> float:
    """e2image -ra: the ext4 partition's used blocks, disk to disk."""
    out = _fresh(work) / "out.img"

    def run() -> Path:
        subprocess.run(["e2image", "-ra", "-o", str(PART_START), "-O", str(PART_START),
                        str(disk), str(out)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return out

    return _timed(run)


def qemu_img(disk: Path, work: Path) -> float:
    """qemu-img convert raw -> raw (skips zeros, copies stale free space)."""
    out = _fresh(work) / "out.img"

    def run() -> Path:
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "raw", str(disk), str(out)],
                       check=True)
        return out

    return _timed(run)


def partclone_pipe(disk: Path, work: Path) -> float:
    """partclone.ext4 -c | zstd -1 | socat TCP -> socat | zstd -d | partclone.ext4 -r."""
    out = _fresh(work) / "part.img"
    port = free_port_pair()
    with _partition_device(disk) as (part, size):
        def run() -> Path:
            out.touch()
            os.truncate(out, size)  # partclone restores only into a partition of the size
            receiver = subprocess.Popen(
                ["sh", "-c", f"socat -u TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr STDOUT"
                             f" | zstd -d -q | partclone.ext4 -q -r -s - -O {out}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_listening(port)
            subprocess.run(["sh", "-c", f"partclone.ext4 -q -c -s {part} -o - | zstd -1 -q"
                                        f" | socat -u STDIN TCP:127.0.0.1:{port}"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if receiver.wait(timeout=600) != 0:
                raise RuntimeError("the partclone receiver failed")
            return out

        return _timed(run)


def rsync_whole(disk: Path, work: Path) -> float:
    """rsync --whole-file to an rsync daemon on loopback (plain TCP)."""
    with tools.rsync_daemon(_fresh(work)) as (url, dest):
        def run() -> Path:
            subprocess.run(["rsync", "--whole-file", str(disk), url], check=True,
                           stdout=subprocess.DEVNULL)
            return dest / disk.name

        return _timed(run)


def rsync_delta(changed: Path, copy: Path, url: str) -> tuple[float, int]:
    """rsync's delta transfer (--inplace --no-whole-file) of `changed` onto its old copy.

    Returns (seconds until durable, bytes rsync sent).
    """
    drop_caches()
    started = time.perf_counter()
    proc = subprocess.run(["rsync", "--inplace", "--no-whole-file", "--stats", str(changed),
                           url], check=True, capture_output=True, text=True)
    _fsync(copy)
    elapsed = time.perf_counter() - started
    sent = next(int(line.split(":")[1].split()[0].replace(",", ""))
                for line in proc.stdout.splitlines() if line.startswith("Total bytes sent"))
    return elapsed, sent


def _fresh(work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


ANCHORS: dict[str, Callable[[Path, Path], float]] = {
    "e2image -ra": e2image,
    "partclone|zstd|socat": partclone_pipe,
    "qemu-img convert": qemu_img,
    "rsync -W": rsync_whole,
}
