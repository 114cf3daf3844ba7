"""The pure parts of the checks: LV paths in fstab, appliance output, fsck verdicts, routing."""

from __future__ import annotations

from pathlib import Path

import pytest

import checkdisks
from rehost.imaging.applianceinfo import parse_listing, split_marked, subvolumes, survey_devices
from rehost.imaging.checks import needs_appliance
from rehost.imaging.fsckscript import verdict_of
from rehost.imaging.fstab import check_fstab, lv_name, resolve_spec
from rehost.imaging.layout import read_layout
from rehost.imaging.volumes import FsVolume, HostView

ROOT = FsVolume("/dev/rh-sys/root", 0, 3, "xfs", "1111", "", lv="rh-sys/root")
BOOT = FsVolume("/dev/sda2", 0, 2, "ext4", "2222", "boot")


@pytest.mark.parametrize(("spec", "expected"), [
    ("/dev/mapper/rh--sys-root", "rh-sys/root"), ("/dev/mapper/vg-lv", "vg/lv"),
    ("/dev/vg0/home", "vg0/home"), ("/dev/sda1", None), ("/dev/disk/by-uuid/x", None),
    ("/dev/mapper/luks-0b1c-44aa-9f00", None), ("/dev/mapper/control", None),
])
def test_lv_paths_are_named_as_vg_slash_lv(spec: str, expected: str | None) -> None:
    assert lv_name(spec) == expected


def test_fstab_lv_entries_resolve_fail_or_stay_unverified() -> None:
    text = ("/dev/mapper/rh--sys-root / xfs defaults 0 0\nLABEL=boot /boot ext4 defaults 0 2\n"
            "/dev/rh-sys/gone /srv xfs defaults 0 0\n"
            "/dev/mapper/cryptdata /data ext4 defaults 0 0\n"
            "/dev/md/0 /raid ext4 defaults 0 0\n")
    results = {r.name: r for r in check_fstab(text, [], [ROOT, BOOT])}
    assert set(results) == {"fstab:/srv", "fstab:/data", "fstab:/raid"}
    srv = results["fstab:/srv"]
    assert srv.status == "fail" and "rh-sys/root" in srv.message_en
    # not a known volume group: dm-crypt or RAID, never a false failure
    assert results["fstab:/data"].status == "warn" and results["fstab:/raid"].status == "warn"
    assert resolve_spec("UUID=1111", [ROOT, BOOT]) == [ROOT]
    assert resolve_spec("/dev/disk/by-label/boot", [ROOT, BOOT]) == [BOOT]


DISCOVERY = """DISK 0 /dev/sdc
DISK 1 /dev/sda
BLKID
DEVNAME=/dev/sdb
UUID=aaaa
TYPE=ext2

DEVNAME=/dev/mapper/rh--sys-root
UUID=1111
TYPE=xfs

DEVNAME=/dev/sdc2
UUID=2222
LABEL=boot
TYPE=ext4

DEVNAME=/dev/sdc1
PARTUUID=x

DEVNAME=/dev/sda1
UUID=3333
TYPE=btrfs

LVS
  rh-sys:root:/dev/mapper/rh--sys-root:/dev/sdc3(0)
"""


def test_discovery_maps_kernel_names_to_the_disks_order_and_skips_the_appliance_disk() -> None:
    volumes, kernel = survey_devices(DISCOVERY)
    assert [(v.key, v.disk, v.partition, v.fs, v.lv) for v in volumes] == [
        ("/dev/sda2", 0, 2, "ext4", ""), ("/dev/rh-sys/root", 0, 3, "xfs", "rh-sys/root"),
        ("/dev/sdb1", 1, 1, "btrfs", "")]
    assert kernel["/dev/sda2"] == "/dev/sdc2" and kernel["/dev/sdb1"] == "/dev/sda1"
    assert volumes[0].label == "boot"
    btrfs = [volumes[2]]
    report = ("FSCK\nok\nRC 0\nSUBVOLS\nID 256 gen 7 top level 5 path @\n"
              "ID 257 gen 7 top level 5 path @home\n")
    subs = subvolumes(btrfs, split_marked(report, "SUBVOLS", 1))
    assert [(s.key, s.subvol, s.uuid) for s in subs] == [
        ("btrfsvol:/dev/sdb1/@", "@", "3333"), ("btrfsvol:/dev/sdb1/@home", "@home", "3333")]
    assert split_marked(report, "FSCK", 2) == ["\nok\nRC 0\n", ""]


def test_listing_tells_files_from_dirs_and_absent_directories() -> None:
    listing = parse_listing("D boot\nD etc\nF vmlinuz\nF boot/vmlinuz-6\nF etc/fstab\n"
                            "D boot/grub\n")
    assert listing.dirs["/boot"] == {"vmlinuz-6", "grub"} and "/boot/grub" not in listing.files
    assert "/boot/vmlinuz-6" in listing.files and listing.covers("/etc")
    assert not listing.covers("/usr/lib")
    assert parse_listing("D usr\n").covers("/boot") and "/boot" not in parse_listing("").dirs


@pytest.mark.parametrize(("fs", "output", "outcome", "words"), [
    ("ext4", "Pass 5\nRC 0\n", "clean", ""),
    ("ext4", "recovering journal\nREPLAY 1\nPass 5\nRC 0\n", "replayed", ""),
    ("ext4", "REPLAY 1\nInode 12 has bad mode\nRC 4\n", "errors", "after journal replay"),
    ("ext4", "REPLAY 8\nRC 8\n", "errors", "could not be replayed"),
    ("xfs", "REPLAY 32\nRC 2\n", "errors", "could not be replayed"),
    ("xfs", "agf_freeblks 7, counted 14000\nRC 1\n", "errors", "agf_freeblks"),
    ("btrfs", "sh: btrfs: not found\n", "not_checked", "did not run"),
])
def test_fsck_verdicts(fs: str, output: str, outcome: str, words: str) -> None:
    verdict = verdict_of(FsVolume("/dev/sda1", 0, 1, fs, "", ""), output)
    assert verdict.outcome == outcome and words in verdict.detail, verdict


def test_a_dirty_ext4_partition_is_routed_to_the_appliance(tmp_path: Path) -> None:
    dirty = checkdisks.dirty_corrupt_ext4(tmp_path)
    assert needs_appliance([read_layout(dirty)])
    clean = checkdisks.place_data(tmp_path / "clean.img", checkdisks.make_fs(
        checkdisks.Fs("ext4", 32, files={"a": b"a"}), tmp_path / "clean.fs"), 32)
    assert not needs_appliance([read_layout(clean)])


def test_a_swap_partition_named_by_uuid_in_fstab_resolves(tmp_path: Path) -> None:
    swap = checkdisks.Fs("swap", 16)
    disk = checkdisks.place_data(tmp_path / "swap.img",
                                 checkdisks.make_fs(swap, tmp_path / "swap.fs"), 16)
    layouts = [read_layout(disk)]
    assert layouts[0].partitions[0].uuid == swap.uuid
    results = check_fstab(f"UUID={swap.uuid} none swap sw 0 0\n", layouts,
                          HostView(layouts).volumes)
    assert [r.status for r in results] == ["pass"], results
