"""OS adaptation time (libguestfs under TCG) beside the sync time of the 4 GiB reference disk.

Run: python -m bench.adaptation [--cache DIR]. Issue 11's target: adapting the corpus image
ext4-mbr-novirtio (tests/oscorpus, a real Debian bookworm) takes no longer than syncing a 4 GiB
disk through rehost on the same machine, in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from bench.refdisk import reference_disk
from bench.rehost_run import migrate
from oscorpus.corpus import corpus_image
from rehost.imaging.adapt import AdaptReport, adapt_linux_guest

LAYOUT = "ext4-mbr-novirtio"


def adapt_time(work: Path) -> AdaptReport:
    """Adapt a fresh copy of the corpus image under TCG; the report carries the duration."""
    os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    with tempfile.TemporaryDirectory(prefix="bench-adapt-", dir=work) as tmp:
        image = corpus_image(LAYOUT, Path(tmp) / f"{LAYOUT}.raw")
        return adapt_linux_guest([image], log=lambda change: None)


def report(cache: Path, *, sync_s: float | None = None) -> None:
    """Print the adaptation time, the 4 GiB sync time (measured now unless given), the ratio."""
    cache.mkdir(parents=True, exist_ok=True)
    if sync_s is None:
        disk = reference_disk(cache)
        sync_s = migrate(disk, cache / "work", compress_level=1, checksum=False).elapsed_s
    adapted = adapt_time(cache)
    accel = os.environ["LIBGUESTFS_BACKEND_SETTINGS"]
    print(f"sync of the 4 GiB reference disk (compress=1): {sync_s:7.2f} s")
    print(f"adaptation of {LAYOUT} ({accel}): {adapted.duration_s:7.2f} s, "
          f"{len(adapted.changes)} changes")
    print(f"adaptation / 4 GiB sync = {adapted.duration_s / sync_s:.2f}   (target <= 1)")


def main() -> None:
    """Parse the cache directory and report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("REHOST_BENCH_DIR", "/tmp/rehost-bench")))
    report(ap.parse_args().cache)


if __name__ == "__main__":
    main()
