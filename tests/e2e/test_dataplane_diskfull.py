"""Transit disk full: the job ends InError (Transit.DiskFull); with space again it finishes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from diskfactory import BuiltDisk, compare_disks
from e2e.harness import Server, run_cli

TMPFS_SMALL = "24m"  # far below the ~250 MiB the big disk sends


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _small_tmpfs_under(server: Server, tmpfs: Path) -> list[Path]:
    """One small tmpfs holding the transits dir and the image store (bind mounts); mounts."""
    store = Path(next(r["image_store_path"] for r in server.client.list_regions()["regions"]
                      if r["region_id"] == "local"))
    tmpfs.mkdir()
    _mount("-t", "tmpfs", "-o", f"size={TMPFS_SMALL}", "tmpfs", str(tmpfs))
    mounts = [tmpfs]
    for inner, outer in ((tmpfs / "transits", server.transits_dir()), (tmpfs / "images", store)):
        inner.mkdir()
        outer.mkdir(parents=True, exist_ok=True)
        _mount("--bind", str(inner), str(outer))
        mounts.insert(0, outer)
    return mounts


@pytest.mark.slow
def test_transit_disk_full_then_retry_finishes(
    start_server: Callable[..., Server], tmp_path: Path, e2e_big_disk: BuiltDisk,
) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs over the transit directory: run it as root")
    server = start_server()
    transits = server.transits_dir()
    # the image store shares the tmpfs: publishing copies with copy_file_range, which fails
    # with EXDEV across filesystems (a storage bug, reported), so keep one filesystem here
    mounts = _small_tmpfs_under(server, tmp_path / "tmpfs")
    try:
        agent = server.import_agent(tmp_path / "agent", system_disk=e2e_big_disk.path).start()
        job_id = server.create_job(agent.source_id)
        failed = server.wait_job(job_id, {"InError"}, timeout_s=120)
        assert failed["error_code"] == "Transit.DiskFull"
        message = failed["error_message"]
        assert "full" in message and "中转实例磁盘空间不足" in message
        assert "Free space" in failed["error_hint"]
        logged = [e for e in server.events(job_id) if e["code"] == "Transit.DiskFull"]
        assert logged and logged[-1]["level"] == "error" and logged[-1]["hint"]
        free = os.statvfs(transits)
        assert free.f_bavail * free.f_frsize < 4 << 20  # the tmpfs really filled up
        _mount("-o", "remount,size=1g", str(mounts[-1]))
        started = json.loads(run_cli("job", "start", job_id, "--output", "json",
                                     env=server.cli_env))
        assert started["status"] == "Running" and started["run_count"] == 2
        doc = server.wait_job(job_id, {"Finished"}, timeout_s=180)
        assert compare_disks(e2e_big_disk, server.image_disks(doc["image_id"])[0]) == []
    finally:
        server.close()
        for mount in mounts:
            subprocess.run(["umount", "-l", str(mount)], check=False)
