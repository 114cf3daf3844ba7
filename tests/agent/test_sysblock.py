"""Discovery from sysfs/procfs: a fake /sys tree over a real disk image, and this machine."""

from __future__ import annotations

from pathlib import Path

from diskfactory import MIB, PartSpec, make_disk
from rehost.agent import discovery
from rehost.agent.inventory import DiskInfo
from rehost.agent.sysblock import mounts_by_devnum, sysfs_devices


def _fake_sys(root: Path, disk: str, size: int, parts: list[tuple[int, int, int]]) -> None:
    block = root / "block" / disk
    block.mkdir(parents=True)
    (block / "size").write_text(f"{size // 512}\n")
    (block / "dev").write_text("259:0\n")
    for number, start, length in parts:
        part = block / f"{disk}p{number}"
        part.mkdir()
        (part / "partition").write_text(f"{number}\n")
        (part / "start").write_text(f"{start // 512}\n")
        (part / "size").write_text(f"{length // 512}\n")
        (part / "dev").write_text(f"259:{number}\n")


def test_fake_sysfs_over_an_mbr_image(tmp_path: Path) -> None:
    built = make_disk(tmp_path / "img", size_mib=64, table="mbr",
                      parts=(PartSpec(fs="ext4", size_mib=24, files_bytes=MIB, label="root"),
                             PartSpec(fs="ext2", size_mib=16, label="data")))
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "fake0").symlink_to(built.path)
    _fake_sys(tmp_path / "sys", "fake0", built.size_bytes,
              [(p.number, p.start_bytes, p.size_bytes) for p in built.partitions])
    info = tmp_path / "mountinfo"
    info.write_text("22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/fake0p1 rw\n"
                    "23 22 259:2 / /srv/my\\040data rw - ext2 /dev/fake0p2 rw\n")
    (disk,) = sysfs_devices(tmp_path / "sys", dev, info)
    assert (disk["kname"], disk["size"], disk["pttype"]) == ("fake0", built.size_bytes, "dos")
    root, data = disk["children"]
    assert (root["fstype"], root["label"], root["mountpoints"]) == ("ext4", "root", ["/"])
    assert (data["fstype"], data["mountpoints"]) == ("ext2", ["/srv/my data"])
    assert root["parttype"] == "83" and root["size"] == built.partitions[0].size_bytes
    assert root["uuid"]


def test_no_sysfs_is_empty_so_lsblk_helps(tmp_path: Path) -> None:
    assert sysfs_devices(tmp_path / "nosys", tmp_path, tmp_path / "nomounts") == []
    assert mounts_by_devnum(tmp_path / "nomounts") == {}


def test_this_machine_sysfs_agrees_with_lsblk() -> None:
    """The system disk found through sysfs equals the one found through lsblk."""
    def system(devices: list[dict[str, object]]) -> DiskInfo:
        disks = discovery._candidate_disks(devices)
        found = next(d for d in disks if discovery._has_mount(d, "/"))
        return discovery._real_disk(0, found)

    def still(disk: DiskInfo) -> DiskInfo:
        """Without used bytes: other processes write to the root file system between reads."""
        return disk._replace(used_bytes=0, partitions=tuple(
            p._replace(used_bytes=0) for p in disk.partitions))

    by_sysfs, by_lsblk = system(sysfs_devices()), system(discovery._lsblk())
    assert still(by_sysfs) == still(by_lsblk)
    assert abs(by_sysfs.used_bytes - by_lsblk.used_bytes) < 2**30  # same disk, moments apart


def test_redhat_release_when_there_is_no_os_release() -> None:
    assert discovery.redhat_release("CentOS release 6.10 (Final)\n") == ("CentOS", "6.10")
    assert discovery.redhat_release("Red Hat Enterprise Linux Server release 7.9 (Maipo)") \
        == ("Red Hat Enterprise Linux Server", "7.9")
    assert discovery.redhat_release("garbage") == ("unknown", "unknown")
