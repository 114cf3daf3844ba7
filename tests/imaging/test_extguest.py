"""The host-side ext shell on real disks made by sfdisk + mkfs.ext4 -d (no VM, no mount)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rehost.imaging import extfs
from rehost.imaging.extguest import OfflineUnsupported, open_ext_guest

MIB = 1 << 20
BOOT_UUID = "0f3c1a8e-1111-4222-8333-444455556666"
ROOT_UUID = "78d9c820-a4ae-481a-a33e-879c75315056"
BOOT_AT, ROOT_AT = 1 * MIB, 33 * MIB
VERSION = "6.1.0-50-amd64"


def _tree(root: Path, files: dict[str, str], *, modes: dict[str, int] | None = None) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for name, mode in (modes or {}).items():
        (root / name).chmod(mode)
    return root


def _disk(tmp_path: Path, *, root_fs: str = "ext4", esp: bool = False) -> Path:
    """MBR: p1 ext4 /boot (32 MiB), p2 root (64 MiB), p3 vfat /boot/efi when asked."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    disk = tmp_path / "disk.img"
    with disk.open("wb") as f:
        f.truncate(128 * MIB)
    table = "start=2048, size=65536, type=83\nstart=67584, size=131072, type=83\n"
    if esp:
        table += "start=198656, size=40960, type=ef\n"
    subprocess.run(["sfdisk", "-q", str(disk)], input=table, text=True, check=True)
    boot = _tree(tmp_path / "boot", {"grub/grub.cfg": f"linux /vmlinuz-{VERSION} root=/dev/sda2"
                                     " ro quiet\n", f"initrd.img-{VERSION}": "old initrd\n"})
    fstab = f"UUID={ROOT_UUID} / {root_fs} defaults 0 1\nUUID={BOOT_UUID} /boot ext4 defaults 0 2\n"
    if esp:
        fstab += "/dev/sda3 /boot/efi vfat umask=0077 0 1\n"
    root = _tree(tmp_path / "root", {
        "etc/fstab": fstab, "etc/initramfs-tools/modules": "ahci\n",
        "usr/sbin/update-initramfs": "#!/bin/sh\n", "usr/local/bin/notexec": "x\n",
        f"usr/lib/modules/{VERSION}/modules.dep": "kernel/drivers/block/virtio_blk.ko:\n",
        "etc/secret": "s\n", "boot/.keep": ""},
        modes={"usr/sbin/update-initramfs": 0o755, "etc/secret": 0o4750})
    os.chown(root / "etc/secret", 1000, 1001)
    (root / "etc/secret").chmod(0o4750)  # chown cleared the setuid bit
    os.symlink("usr/lib", root / "lib")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    os.symlink("/lib/systemd/system/open-vm-tools.service", wants / "open-vm-tools.service")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-U", BOOT_UUID, "-E", f"offset={BOOT_AT}", "-d",
                    str(boot), str(disk), "32M"], check=True)
    if root_fs == "ext4":
        subprocess.run(["mkfs.ext4", "-q", "-F", "-U", ROOT_UUID, "-E", f"offset={ROOT_AT}",
                        "-d", str(root), str(disk), "64M"], check=True)
    else:
        part = tmp_path / "root.fs"
        with part.open("wb") as f:
            f.truncate(64 * MIB)
        subprocess.run(["mkfs.xfs", "-q", "-m", f"uuid={ROOT_UUID}", str(part)], check=True,
                       env={**os.environ, "TEST_DIR": "1", "TEST_DEV": "1", "QA_CHECK_FS": "1"})
        subprocess.run(["dd", f"if={part}", f"of={disk}", "bs=1M", f"seek={ROOT_AT // MIB}",
                        "conv=notrunc,sparse", "status=none"], check=True)
    if esp:
        subprocess.run(["mkfs.vfat", "--offset", str(198656), str(disk), str(20 * 1024)],
                       check=True, capture_output=True)
    return disk


def _debugfs(disk: Path, at: int, command: str, *, write: bool = False) -> str:
    args = ["debugfs", *(["-w"] if write else []), "-R", command, extfs.spec(disk, at)]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_reads_across_mounts_and_symlinks_and_finds_programs_and_units(tmp_path: Path) -> None:
    guest = open_ext_guest([_disk(tmp_path)])
    assert guest is not None and guest.os_type() == "linux"
    assert (guest.read("/etc/fstab") or "").startswith(f"UUID={ROOT_UUID} / ext4")
    assert "root=/dev/sda2" in (guest.read("/boot/grub/grub.cfg") or "")  # the /boot partition
    assert guest.ls("/lib/modules") == [VERSION]  # through the merged-/usr symlink
    assert guest.read_files([f"/lib/modules/{VERSION}/modules.dep", "/nope"]) == [
        b"kernel/drivers/block/virtio_blk.ko:\n", None]
    assert guest.programs(["update-initramfs", "dracut", "notexec"]) == {"update-initramfs"}
    assert guest.wanted_units(["open-vm-tools.service", "hv-kvp-daemon.service"]) == {
        "open-vm-tools.service"}
    assert guest.uuid("/dev/sda1") == BOOT_UUID and guest.uuid("/dev/sdz9") is None
    with pytest.raises(OfflineUnsupported, match="needs the libguestfs appliance"):
        guest.sh("update-initramfs -u -k all")


def test_writes_keep_mode_owner_and_selinux_label_and_leave_fsck_clean(tmp_path: Path) -> None:
    disk = _disk(tmp_path)
    _debugfs(disk, ROOT_AT, "ea_set /etc/secret security.selinux system_u:object_r:etc_t:s0",
             write=True)
    guest = open_ext_guest([disk])
    assert guest is not None
    guest.write("/etc/secret", "new secret\n")
    big = os.urandom(3 * MIB)
    guest.write_bytes(f"/boot/initrd.img-{VERSION}", big)
    guest.write("/etc/rehost-new.conf", "created\n")  # a new file: 0644 root
    guest.disable_unit("open-vm-tools.service")
    guest.remove("/etc/initramfs-tools/modules")
    assert guest.read("/etc/secret") == "new secret\n"
    assert guest.read_bytes(f"/boot/initrd.img-{VERSION}") == big
    assert guest.wanted_units(["open-vm-tools.service"]) == set()
    assert guest.read("/etc/initramfs-tools/modules") is None
    stat = _debugfs(disk, ROOT_AT, "stat /etc/secret")
    assert "Mode:  04750" in stat and "User:  1000   Group:  1001" in stat, stat
    assert 'security.selinux (26) = "system_u:object_r:etc_t:s0"' in stat, stat
    assert "Links: 1" in stat
    assert ".secret.rehost-new" not in _debugfs(disk, ROOT_AT, "ls /etc")
    created = _debugfs(disk, ROOT_AT, "stat /etc/rehost-new.conf")
    assert "Mode:  0644" in created and "User:     0   Group:     0" in created, created
    for at in (BOOT_AT, ROOT_AT):
        check = subprocess.run(["e2fsck", "-fn", extfs.spec(disk, at)], capture_output=True,
                               text=True, check=False)
        assert check.returncode == 0, check.stdout


def test_a_vfat_mount_is_refused_by_path_and_other_paths_still_work(tmp_path: Path) -> None:
    guest = open_ext_guest([_disk(tmp_path, esp=True)])
    assert guest is not None
    with pytest.raises(OfflineUnsupported, match="/boot/efi/EFI/x is on a vfat filesystem"):
        guest.read("/boot/efi/EFI/x")
    assert guest.read("/etc/initramfs-tools/modules") == "ahci\n"


def test_layouts_it_does_not_take_go_to_the_appliance(tmp_path: Path) -> None:
    assert open_ext_guest([_disk(tmp_path / "x", root_fs="xfs")]) is None  # XFS root
    disk = _disk(tmp_path / "j")
    _debugfs(disk, ROOT_AT, "feature needs_recovery", write=True)  # a journal to replay
    assert open_ext_guest([disk]) is None
    blank = tmp_path / "blank.img"
    with blank.open("wb") as f:
        f.truncate(16 * MIB)
    assert open_ext_guest([blank]) is None  # no filesystem, no fstab
