"""OS adaptation time beside the sync time of the 4 GiB reference disk, in the same run.

Run: python -m bench.adaptation [--cache DIR]. Issue 11's target: adapting the corpus image
ext4-mbr-novirtio (tests/oscorpus, a real Debian bookworm whose initramfs lacks virtio) takes no
longer than syncing a 4 GiB disk through rehost on the same machine. Printed:
    - ext4-mbr-novirtio through `adapt_linux_guest` as a job runs it (ext4 on a partition: on
      this host with debugfs), then adapted a second time (virtio already there);
    - lvm-xfs-dracut the same way (LVM + XFS: the libguestfs appliance under TCG);
    - the appliance path phase by phase on ext4-mbr-novirtio (launch + mounts, each step), the
      engine every non-ext guest takes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from bench.refdisk import reference_disk
from bench.rehost_run import migrate
from oscorpus.corpus import corpus_image
from rehost.imaging.adapt import AdaptOptions, adapt_linux_guest
from rehost.imaging.guestfish import appliance_smp, open_guest

LAYOUT = "ext4-mbr-novirtio"
APPLIANCE_LAYOUT = "lvm-xfs-dracut"


@dataclass(frozen=True)
class AdaptTiming:
    """One adaptation's wall time per phase (launch, then each step), and its changes."""

    phases: tuple[tuple[str, float], ...]
    changes: int

    @property
    def total_s(self) -> float:
        """The whole adaptation, appliance shutdown included in the last phase."""
        return sum(s for _name, s in self.phases)


def timed_adaptation(image: Path) -> AdaptTiming:
    """Adapt the image as rehost does (default options), timing the launch and each step."""
    phases: list[tuple[str, float]] = []
    changes = 0
    started = time.monotonic()
    with open_guest([image]) as guest:
        phases.append(("launch + inspection", time.monotonic() - started))
        for step in AdaptOptions().steps():
            began = time.monotonic()
            changes += sum(1 for c in step(guest) if c.changed)
            phases.append((step.__name__, time.monotonic() - began))
        began = time.monotonic()
    phases.append(("unmount + shutdown", time.monotonic() - began))
    return AdaptTiming(tuple(phases), changes)


@dataclass(frozen=True)
class JobAdaptation:
    """adapt_linux_guest as a build runs it: wall time, changes, and which engine did it."""

    seconds: float
    changes: int
    engine: str


def job_adaptation(image: Path) -> JobAdaptation:
    """One adapt_linux_guest run over the image (default options)."""
    codes: list[str] = []
    started = time.monotonic()
    report = adapt_linux_guest([image], log=lambda change: codes.append(change.message_en))
    offline = any("adapted on this host with debugfs" in line for line in codes)
    return JobAdaptation(time.monotonic() - started, len(report.changes),
                         "this host, debugfs" if offline else "libguestfs appliance")


def adapt_times(work: Path) -> tuple[AdaptTiming, AdaptTiming]:
    """A fresh copy of the corpus image adapted in the appliance, then adapted once more."""
    os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    with tempfile.TemporaryDirectory(prefix="bench-adapt-", dir=work) as tmp:
        image = corpus_image(LAYOUT, Path(tmp) / f"{LAYOUT}.raw")
        return timed_adaptation(image), timed_adaptation(image)


def job_times(work: Path, layout: str) -> tuple[JobAdaptation, JobAdaptation]:
    """A fresh copy of the layout adapted as a job does, then once more."""
    os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    with tempfile.TemporaryDirectory(prefix="bench-adapt-", dir=work) as tmp:
        image = corpus_image(layout, Path(tmp) / f"{layout}.raw")
        return job_adaptation(image), job_adaptation(image)


def report(cache: Path, *, sync_s: float | None = None) -> None:
    """Print the adaptation times, the 4 GiB sync time (measured now unless given), the ratio."""
    cache.mkdir(parents=True, exist_ok=True)
    if sync_s is None:
        disk = reference_disk(cache)
        sync_s = migrate(disk, cache / "work", compress_level=1, checksum=False).elapsed_s
    print(f"sync of the 4 GiB reference disk (compress=1): {sync_s:7.2f} s")
    for layout in (LAYOUT, APPLIANCE_LAYOUT):
        for label, run in zip(("no virtio in its initramfs", "adapted again"),
                              job_times(cache, layout), strict=True):
            print(f"adaptation of {layout} as a job runs it, {label} ({run.engine}): "
                  f"{run.seconds:7.2f} s, {run.changes} changes, load average "
                  f"{os.getloadavg()[0]:.1f}; adaptation / 4 GiB sync = {run.seconds / sync_s:.2f}"
                  "   (target <= 1)")
    first, again = adapt_times(cache)
    accel = os.environ["LIBGUESTFS_BACKEND_SETTINGS"]
    for label, timing in (("no virtio in its initramfs", first), ("adapted again", again)):
        print(f"appliance path on {LAYOUT}, {label} ({accel}, {appliance_smp()} vCPU): "
              f"{timing.total_s:7.2f} s, {timing.changes} changes, "
              f"load average {os.getloadavg()[0]:.1f}")
        for name, seconds in timing.phases:
            print(f"    {name:24s} {seconds:7.2f} s")
        print(f"    adaptation / 4 GiB sync = {timing.total_s / sync_s:.2f}   (target <= 1)")


def main() -> None:
    """Parse the cache directory and report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("REHOST_BENCH_DIR", "/tmp/rehost-bench")))
    report(ap.parse_args().cache)


if __name__ == "__main__":
    main()
