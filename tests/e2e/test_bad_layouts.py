"""Bad disk layouts through the real server and agent: whole copies, named in the job log.

One job migrates a system disk whose LVM metadata is corrupt (ext4 /boot + PV) and a data
disk cut short of what its partition table says. The plan cannot trust either volume, so
each is copied whole (as far as it exists), the job log names the disk, the volume and why,
and the job still finishes: nothing crashes and nothing is left stuck.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from diskfactory import MIB, BuiltDisk, make_data_disk, run
from e2e.harness import Server
from fslayouts import FsImage, LayoutDisk, make_fs, make_lvs, partition, place

CUT_BYTES = 8 * MIB
DISK_MIB = 16 + 48 + 2


def _small_lvm_disk(directory: Path) -> LayoutDisk:
    """GPT: ext4 /boot (16 MiB), a PV with a 32 MiB ext4 root LV; free space stale."""
    image = directory / "lvm.img"
    boot, pv = partition(image, DISK_MIB * MIB, "size=16MiB, type=linux\ntype=lvm\n")
    root_at = make_lvs(image, offset=pv[0], size=pv[1], lvs={"root": 32 * MIB})["root"]
    fss = {}
    for name, at, size in (("boot", boot[0], boot[1]), ("root", root_at, 32 * MIB)):
        fs = make_fs("ext4", directory / f"{name}.fs", size, files_bytes=MIB, seed=len(fss))
        place(image, directory / f"{name}.fs", at)
        fss[name] = FsImage("ext4", at, size, fs.used_bytes, fs.files)
    return LayoutDisk(image, DISK_MIB * MIB, fss)


def _corrupt_lvm(disk: LayoutDisk, out: Path) -> tuple[Path, int]:
    """A copy whose newest LVM metadata text fails its checksum; returns (path, PV start)."""
    shutil.copyfile(disk.path, out)
    pv_start = disk.filesystems["boot"].start_bytes + disk.filesystems["boot"].size_bytes
    with out.open("r+b") as f:
        f.seek(pv_start)
        head = f.read(MIB)
        f.seek(pv_start + head.rindex(b"logical_volumes"))
        f.write(b"LOGICAL")
    return out, pv_start


def _truncated(disk: BuiltDisk, out: Path) -> Path:
    """A copy CUT_BYTES shorter: the partition runs past the end, the backup GPT is gone."""
    shutil.copyfile(disk.path, out)
    with out.open("r+b") as f:
        f.truncate(disk.size_bytes - CUT_BYTES)
    return out


def _same_bytes(a: Path, b: Path, start: int, end: int) -> bool:
    with a.open("rb") as fa, b.open("rb") as fb:
        fa.seek(start)
        fb.seek(start)
        while start < end:
            n = min(4 * MIB, end - start)
            if fa.read(n) != fb.read(n):
                return False
            start += n
    return True


@pytest.mark.slow
def test_corrupt_lvm_and_truncated_disk_are_copied_whole_and_logged(
    start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    lvm = _small_lvm_disk(tmp_path)
    system, pv_start = _corrupt_lvm(lvm, tmp_path / "system.img")
    good = make_data_disk(tmp_path / "data")
    data = _truncated(good, tmp_path / "short.img")
    part = good.partitions[0]
    server = start_server()
    agent = server.import_agent(tmp_path / "agent", system_disk=system, data_disks=[data])
    agent.start()
    job_id = server.create_job(agent.source_id, data_disks=[(1, 1)])
    doc = server.wait_job(job_id, {"Finished"}, timeout_s=240)
    log = server.events_text(job_id)
    assert ("disk 0: partition 2 (LVM2_member): no readable LVM metadata (LVM metadata area "
            "at byte 4096: text checksum mismatch); copied whole") in log
    short = good.size_bytes - CUT_BYTES
    assert (f"disk 1: partition 1 (ext4): ends at byte {part.start_bytes + part.size_bytes}, "
            f"{part.start_bytes + part.size_bytes - short} bytes beyond the end of the disk "
            f"({short} bytes; truncated disk?); the {short - part.start_bytes} bytes present "
            "are copied whole") in log
    disks = server.image_disks(doc["image_id"])
    pv_end = lvm.size_bytes - MIB  # the GPT backup area follows the PV
    assert _same_bytes(system, disks[0], pv_start, pv_end)  # the PV whole, stale data and all
    assert _same_bytes(data, disks[1], part.start_bytes, short)  # every byte that exists
    boot = lvm.filesystems["boot"]
    run("e2fsck", "-fn", f"{disks[0]}?offset={boot.start_bytes}")  # /boot was planned as usual
