"""Consistent copies of a live source: a QEMU Debian VM running the agent while writers create,
rename and delete files on its mounted filesystems throughout the sync.

One boot, one job with two disks: an XFS LV in a VG with free extents (read through an LVM
snapshot) and an ext4 partition (a final catch-up pass under fsfreeze). In the libguestfs
appliance, after journal replay, `xfs_repair -n` and `e2fsck -fn` find both clean, every
file the writers did not touch is identical, and the VG holds no snapshot.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from e2e.harness import Server, wait_for
from e2e.livevm import booted, control_disk, guest_image
from rehost.agentdist.pyz import agent_artefact

# one TCG boot and sync of the VM, bounded (the first run also builds the cached guest)
pytestmark = [pytest.mark.slow, pytest.mark.qemu, pytest.mark.timeout(2400)]
DISK_BYTES = 1 << 30
LV_MIB = 640
STATIC_FILES = 16
SCRIPT = Path(__file__).with_name("live_guest.sh")
# in the libguestfs appliance: journals replayed on the (throwaway) overlay, then checked
FSCK = ("mkdir -p /tmp/x; mount /dev/live/data /tmp/x && umount /tmp/x; "
        "xfs_repair -n /dev/live/data > /tmp/o 2>&1; echo XFS_REPAIR $?; tail -n 3 /tmp/o; "
        "e2fsck -E journal_only -y /dev/sdb1 > /dev/null 2>&1; "
        "e2fsck -fn /dev/sdb1 > /tmp/o 2>&1; echo E2FSCK $?; tail -n 3 /tmp/o")


class Migrated(NamedTuple):
    """What the live migration left to check."""

    static: dict[tuple[str, str], str]  # (fs, path) -> SHA-256 in the guest before the sync
    image: dict[tuple[str, str], str]  # the same in the migrated image
    report: str  # the appliance's output
    events: str  # the job log
    writes_during_sync: int
    sync_s: float


def _guest_files(server: Server) -> dict[str, str | bytes]:
    env = (f"ENDPOINT=http://10.0.2.2:{server.port}\nCODE={server.activation_code()}\n"
           f"DISK_BYTES={DISK_BYTES}\nLV_MIB={LV_MIB}\nSTATIC_FILES={STATIC_FILES}\n")
    return {"env": env, "run.sh": SCRIPT.read_text(), "rehost-agent.pyz": agent_artefact().data}


def _sums(lines: list[str], tag: str) -> dict[tuple[str, str], str]:
    found = {}
    for line in lines:
        m = re.match(rf"{tag} (xfs|ext4) ([0-9a-f]{{64}})  (\S+)$", line.strip())
        if m:
            found[(m.group(1), m.group(3))] = m.group(2)
    return found


def _writes(lines: list[str]) -> int:
    return sum(1 for line in lines if line.startswith("LIVE-WROTE"))


def _source_id(server: Server) -> str:
    def found() -> str | None:
        for src in server.client.list_sources().get("sources", []):
            if src.get("state") == "Available":
                return str(src["source_id"])
        return None
    return wait_for(found, timeout_s=300, what="the guest's source Available", interval_s=1)


def _appliance(images: list[Path], out: Path) -> tuple[str, dict[tuple[str, str], str]]:
    """The appliance's LVs and fsck verdicts, and the SHA-256 of the static files."""
    script = (f"run\nlvs\ndebug sh \"{FSCK}\"\n"
              f"mount-ro /dev/live/data /\nchecksums-out sha256 /static {out / 'xfs.sums'}\n"
              f"umount /\nmount-ro /dev/sdb1 /\nchecksums-out sha256 /static "
              f"{out / 'ext4.sums'}\numount /\n")
    argv = ["guestfish", "--ro"]
    for image in images:
        argv += ["--format=raw", "-a", str(image)]
    env = {**os.environ, "LIBGUESTFS_BACKEND": "direct"}
    if os.environ.get("REHOST_VERIFY_ACCELERATOR", "tcg") == "tcg":
        env.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")  # KVM may hang here
    proc = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=1200,
                          env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sums = {}
    for fs in ("xfs", "ext4"):
        for line in (out / f"{fs}.sums").read_text().splitlines():
            digest, _, name = line.partition("  ")
            sums[(fs, "static/" + Path(name.strip()).name)] = digest
    return proc.stdout, sums


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migrated]:
    """Boot the source VM once, migrate its two disks live, check the image once."""
    work = tmp_path_factory.mktemp("live-source")
    # the agent runs under TCG in the guest (Python 10-50 x slower than here): beats every 10 s,
    # Offline after 3 missed, instead of the harness's 1 s
    server = Server(work / "srv", heartbeat_interval_s=10.0,
                    env={"REHOST_DATA_ADVERTISE": "10.0.2.2"}).start(timeout_s=300)
    try:
        guest = guest_image(work / "guest.raw")
        disks = [work / "lvm-xfs.raw", work / "ext4.raw"]
        for disk in disks:
            with disk.open("wb") as f:
                f.truncate(DISK_BYTES)
        ctl = control_disk(work / "ctl.img", _guest_files(server))
        with booted([guest, *disks, ctl], work / "console.log") as vm:
            vm.wait_line("LIVE-IMPORTED", timeout_s=900)
            source_id = _source_id(server)
            before = _writes(vm.lines)
            started = time.monotonic()
            job_id = server.create_job(source_id, system_disk_size=1, data_disks=[(1, 1)])
            finished = server.wait_job(job_id, {"Finished"}, timeout_s=900)
            sync_s = time.monotonic() - started
            writes = _writes(vm.lines) - before
            static = _sums(vm.lines, "STATIC")
            events = server.events_text(job_id)
        images = server.image_disks(str(finished["image_id"]))
        report, image = _appliance([images[0], images[1]], work)
        yield Migrated(static, image, report, events, writes, sync_s)
    finally:
        server.close()


# one test (not one per check): pytest-xdist would set the module fixture up, and boot a guest,
# on every worker that runs one of them
def test_a_live_source_is_copied_consistently(migrated: Migrated) -> None:
    print(f"live sync of 2 x 1 GiB took {migrated.sync_s:.1f} s, "
          f"{migrated.writes_during_sync} writer batches meanwhile")
    # the writers ran throughout the sync
    assert migrated.writes_during_sync >= 2
    # the job log names the method that protected each volume
    assert re.search(r"disk 0: volume /dev/mapper/live-data \(xfs on /mnt/xfs\): protected "
                     r"by an LVM snapshot", migrated.events), migrated.events
    assert re.search(r"disk 1: volume /dev/sd[a-z]1 \(ext4 on /mnt/ext4\): protected by a final "
                     r"catch-up pass under fsfreeze", migrated.events), migrated.events
    # both filesystems are clean after journal replay
    assert "XFS_REPAIR 0" in migrated.report, migrated.report
    assert "E2FSCK 0" in migrated.report, migrated.report
    # the image holds the LV but not the snapshot
    lvs = [line for line in migrated.report.splitlines() if line.startswith("/dev/live/")]
    assert lvs == ["/dev/live/data"], migrated.report
    # every file the writers did not touch is identical
    assert len(migrated.static) == 2 * STATIC_FILES
    assert migrated.image == migrated.static
