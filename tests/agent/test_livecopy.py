"""Mounted-volume detection and the protection chosen for each volume (fake sysfs + tools)."""

from __future__ import annotations

from pathlib import Path

from livefakes import FakeFreezer, ScriptedRunner, lvm_sysfs
from rehost.agent.freeze import DEFAULT_FREEZE_LIMIT_S
from rehost.agent.livecopy import LiveCopy, LiveSettings, clean_stale
from rehost.agent.lvmsnap import LvInfo, snapshot_bytes
from rehost.agent.sendspec import SendDisk
from rehost.agent.volumes import BlockTree, Mount, mounted_volumes, parse_mountinfo

MIB = 1 << 20
MOUNTINFO = """\
22 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/vg0-root rw,attr2
25 22 8:1 / /boot rw,relatime shared:2 - ext4 /dev/sda1 rw
26 22 0:5 / /dev rw,nosuid shared:3 - devtmpfs udev rw,size=1000k
27 22 8:17 / /srv/my\\040data ro,relatime - vfat /dev/sdb1 rw
garbage line
"""
ROOT_TABLE = "0 1048576 linear 8:2 2048\n"
LVS_ROOT = ("  vg0|root|536870912|268435456|4194304|linear||/dev/mapper/vg0-root\n"
            "  vg0|swap|134217728|268435456|4194304|linear||/dev/mapper/vg0-swap\n")


def _runner(*, vg_free: int = 268435456) -> ScriptedRunner:
    return ScriptedRunner({
        "dmsetup table -- vg0-root": ROOT_TABLE,
        "lvs --noheadings --nosuffix --units b --separator | -o vg_name,lv_name,lv_size":
            LVS_ROOT.replace("268435456", str(vg_free)),
        "lvs --noheadings --nosuffix --units b --separator | -o lv_kernel_major": "  253|5\n",
        "lvcreate": "", "lvremove": "", "dmsetup create": "", "dmsetup remove": "",
        "pvs": "  /dev/sda2|vg0|1048576|1\n",
        "losetup --read-only": "/dev/loop7\n",
        "losetup --read-only --find --show --direct-io=on": "/dev/loop8\n",
        "losetup --associated": "/dev/loop7: [2049]:12 (/run/x.meta)\n",
        "losetup --detach": "",
    })


def _live(tmp_path: Path, runner: ScriptedRunner, mounts: list[Mount]) -> LiveCopy:
    sda = lvm_sysfs(tmp_path / "sys")
    image = tmp_path / "sda.img"
    with image.open("wb") as f:
        f.truncate(1 << 30)
        f.seek(411648 * 512 + 512)
        f.write(b"LABELONE" + bytes(504))
    settings = LiveSettings(run_dir=tmp_path / "run")
    return LiveCopy([SendDisk(0, image, 1 << 30)], runner=runner, freezer=FakeFreezer(),
                    settings=settings, mounts=mounts, sys_root=tmp_path / "sys",
                    resolve=lambda _p: sda)


def test_mountinfo_lines_parse_with_escapes_and_read_only_flags() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert [(m.dev, m.mount_point, m.fstype, m.read_only) for m in mounts] == [
        ("253:0", "/", "xfs", False), ("8:1", "/boot", "ext4", False),
        ("0:5", "/dev", "devtmpfs", False), ("8:17", "/srv/my data", "vfat", True)]


def test_partitions_and_lvs_stacked_on_the_disk_are_found_with_their_disk_ranges(
        tmp_path: Path) -> None:
    tree = BlockTree(lvm_sysfs(tmp_path / "sys"), tmp_path / "sys")
    vols = mounted_volumes(tree, runner=_runner(), mounts=parse_mountinfo(MOUNTINFO))
    assert [(v.name, v.mount_point, v.dm_name, v.is_lvm, v.ranges) for v in vols] == [
        ("sda1", "/boot", "", False, ((2048 * 512, 409600 * 512),)),
        ("dm-0", "/", "vg0-root", True, (((411648 + 2048) * 512, 1048576 * 512),))]
    assert vols[1].label == "/dev/mapper/vg0-root (xfs on /)"


def test_a_mounted_lv_with_room_in_its_vg_is_read_from_a_snapshot_through_a_view(
        tmp_path: Path) -> None:
    runner = _runner()
    live = _live(tmp_path, runner, parse_mountinfo(MOUNTINFO))
    disks = live.setup()
    assert disks[0].path == Path("/dev/mapper/rehost-view-sda.img")
    [create] = runner.ran("lvcreate")
    assert create[-3:] == ["--size", f"{104 * MIB}b", "vg0/root"]  # 20 %, whole 4 MiB extents
    pv = 411648 * 512
    lv = pv + 2048 * 512  # the first extent follows the 1 MiB metadata area
    # the disk's own ranges through loop8, a read-only loop over it (a dm table on the whole
    # disk is refused while the PV's LVs hold one of its partitions)
    assert runner.ran("losetup --read-only --find --show --direct-io=on") == [
        ["losetup", "--read-only", "--find", "--show", "--direct-io=on", str(tmp_path / "sda.img")]]
    assert runner.tables["rehost-view-sda.img"] == (
        f"0 {pv // 512} linear 7:8 0\n"
        f"{pv // 512} 2048 linear 7:7 0\n"  # the PV's metadata as it was before lvcreate
        f"{lv // 512} 1048576 linear 253:5 0\n"
        f"{lv // 512 + 1048576} {2097152 - lv // 512 - 1048576} linear 7:8 "
        f"{lv // 512 + 1048576}\n")
    saved = (tmp_path / "run/sda2.meta").read_bytes()
    assert len(saved) == MIB and saved[512:520] == b"LABELONE"
    assert live.notes[0] == [
        "volume /dev/sda1 (ext4 on /boot): protected by a final catch-up pass under fsfreeze "
        f"(at most {DEFAULT_FREEZE_LIMIT_S:g} s)",
        "volume /dev/mapper/vg0-root (xfs on /): protected by an LVM snapshot (read from "
        "rehost-snap-…, removed after the copy)"]  # /dev/sdb1 is another disk's
    assert live.freeze_points() == ["/boot"]
    assert live.catch_up_ranges(0) == [(2048 * 512, 409600 * 512)]
    live.release()
    order = [c[:3] for c in runner.calls[-5:]]
    assert order == [["dmsetup", "remove", "--retry"], ["lvremove", "--yes", "--force"],
                     ["losetup", "--detach", "/dev/loop8"],  # the view's disk loop
                     ["losetup", "--associated", str(tmp_path / "run/sda2.meta")],
                     ["losetup", "--detach", "/dev/loop7"]]
    assert not (tmp_path / "run/sda2.meta").exists()
    assert not (tmp_path / "run/rehost-view-sda.img.disk").exists()


def test_a_full_vg_falls_back_to_fsfreeze_and_says_why(tmp_path: Path) -> None:
    runner = _runner(vg_free=4 * MIB)
    live = _live(tmp_path, runner, parse_mountinfo(MOUNTINFO))
    disks = live.setup()
    assert disks[0].path == tmp_path / "sda.img"  # no view: read the disk itself
    assert not runner.ran("lvcreate")
    assert live.notes[0][1] == (
        "volume /dev/mapper/vg0-root (xfs on /): no LVM snapshot (VG vg0 has 4194304 bytes "
        "free, 16777216 needed); protected by a final catch-up pass under fsfreeze (at most "
        f"{DEFAULT_FREEZE_LIMIT_S:g} s)")
    assert live.freeze_points() == ["/", "/boot"]
    assert live.catch_up_ranges(0) == [(2048 * 512, 409600 * 512),
                                       ((411648 + 2048) * 512, 1048576 * 512)]


def test_unfreezable_and_read_only_volumes_are_named_in_the_notes(tmp_path: Path) -> None:
    mounts = [Mount("8:1", "/boot/efi", "vfat", "/dev/sda1"),
              Mount("253:0", "/", "xfs", "/dev/mapper/vg0-root", read_only=True)]
    live = _live(tmp_path, _runner(), mounts)
    live.setup()
    assert live.notes[0] == [
        "volume /dev/sda1 (vfat on /boot/efi): vfat cannot be frozen: copied live, "
        "crash-inconsistent",
        "volume /dev/mapper/vg0-root (xfs on /): mounted read-only, copied as is (consistent)"]
    assert not live.needs_catch_up() and live.active


def test_a_failing_lvcreate_falls_back_to_fsfreeze(tmp_path: Path) -> None:
    runner = _runner()
    del runner.answers["lvcreate"]
    live = _live(tmp_path, runner, parse_mountinfo(MOUNTINFO))
    live.setup()
    assert "no LVM snapshot (`lvcreate" in live.notes[0][1]
    assert live.freeze_points() == ["/", "/boot"]


def test_an_image_file_source_has_no_mounted_volumes(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(4096))
    live = LiveCopy([SendDisk(0, image, 4096)], runner=_runner(), freezer=FakeFreezer(),
                    settings=LiveSettings(), mounts=parse_mountinfo(MOUNTINFO))
    assert not live.active and live.setup()[0].path == image


def test_snapshot_size_is_whole_extents_within_the_free_space() -> None:
    info = LvInfo("vg", "lv", 1000 * MIB, 50 * MIB, 4 * MIB, "linear", "")
    assert snapshot_bytes(info, 20) == 48 * MIB  # 200 MiB wanted, 48 MiB (12 extents) free
    assert snapshot_bytes(info._replace(vg_free_bytes=10 * MIB), 20) == 0
    assert snapshot_bytes(info._replace(vg_free_bytes=1 << 40), 1) == 12 * MIB + 4 * MIB


def test_what_a_crashed_agent_left_is_removed_views_first(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "sda2.meta").write_bytes(b"x")
    (run_dir / "rehost-view-sda.disk").write_text("/dev/loop8\n")
    runner = ScriptedRunner({
        "dmsetup ls": "vg0-root\t(253:0)\nrehost-view-sda\t(253:9)\n",
        "dmsetup remove": "", "lvremove": "",
        "lvs": "  vg0|root\n  vg0|rehost-snap-root\n  vg0|swap\n",
        "losetup --associated": "/dev/loop7: [2049]:12 (/run/x.meta)\n",
        "losetup --detach": "",
    })
    assert clean_stale(runner, run_dir) == ["view rehost-view-sda",
                                            "snapshot vg0/rehost-snap-root"]
    assert [c[:3] for c in runner.calls if c[0] != "lvs" and c[1] != "ls"] == [
        ["dmsetup", "remove", "--retry"], ["lvremove", "--yes", "--force"],
        ["losetup", "--detach", "/dev/loop8"],
        ["losetup", "--associated", str(run_dir / "sda2.meta")],
        ["losetup", "--detach", "/dev/loop7"]]
    assert not (run_dir / "sda2.meta").exists() and not list(run_dir.glob("*.disk"))


def test_no_lvm_tools_is_not_an_error_at_start(tmp_path: Path) -> None:
    assert clean_stale(ScriptedRunner({}), tmp_path / "none") == []


def test_two_lvs_of_one_vg_share_the_metadata_saved_before_the_first_snapshot(
        tmp_path: Path) -> None:
    runner = _runner()
    runner.answers["dmsetup table -- vg0-swap"] = "0 262144 linear 8:2 1050624\n"

    runner.answers["lvs --noheadings --nosuffix --units b --separator | -o vg_name,lv_name,"
                   "lv_size"] = LVS_ROOT.replace("|swap|", "|srv|")
    mounts = [Mount("253:0", "/", "xfs", "/dev/mapper/vg0-root"),
              Mount("253:1", "/srv", "ext4", "/dev/mapper/vg0-swap")]
    live = _live(tmp_path, runner, mounts)
    live.setup()
    assert len(runner.ran("losetup --read-only")) == 2  # one metadata copy, one disk loop
    assert [c[-1] for c in runner.ran("lvcreate")] == ["vg0/root", "vg0/srv"]
    table = runner.tables["rehost-view-sda.img"]
    assert table.count(" linear 7:7 ") == 1 and table.count(" linear 253:5 ") == 2
    assert " 8:0 " not in table  # never the disk itself
    assert not live.needs_catch_up()
