"""adapt_linux_guest through real libguestfs on a small busybox guest: the guest's own tools run
inside the appliance, and the edits land on the disk."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rehost.imaging import extfs
from rehost.imaging.adapt import Change, adapt_linux_guest

pytestmark = [pytest.mark.slow, pytest.mark.qemu]
OFFSET = 1024 * 1024
KERNEL = "6.1.0-99-amd64"
FILES = {
    "etc/fstab": "/dev/sda1 / ext4 errors=remount-ro 0 1\n",
    "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
    "etc/debian_version": "12.8\n",
    "etc/hostname": "rehost-src-A\n",
    "etc/initramfs-tools/modules": "ahci\nvmw_pvscsi\n",
    "etc/default/grub": 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=""\n',
    "boot/grub/grub.cfg": f"menuentry 'Debian' {{\n\tlinux /boot/vmlinuz-{KERNEL} root=/dev/sda1"
                          f" ro quiet\n}}\n",
    "etc/udev/rules.d/70-persistent-net.rules": 'ATTR{address}=="00:50:56:aa:bb:cc", NAME="eth0"\n',
    # the guest's own tools: they prove they ran in the guest (its /etc/hostname)
    "usr/sbin/update-initramfs": "#!/bin/sh\necho \"ran $* on $(cat /etc/hostname) level "
                                 "$COMPRESSLEVEL\" > /boot/initramfs-ran\n",
    "usr/sbin/update-grub": "#!/bin/sh\necho grub > /boot/grub-ran\n",
}


def _guest_disk(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for name, text in FILES.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
        if name.startswith("usr/sbin/"):
            (tree / name).chmod(0o755)
    (tree / "bin").mkdir()
    shutil.copy("/bin/busybox", tree / "bin/busybox")
    for applet in ("sh", "cat", "ls", "rm", "echo"):
        os.symlink("busybox", tree / "bin" / applet)
    for directory in ("usr/bin", "dev", "proc", "sys", "tmp", "run"):
        (tree / directory).mkdir()
    (tree / f"lib/modules/{KERNEL}").mkdir(parents=True)
    wants = tree / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    os.symlink("/lib/systemd/system/open-vm-tools.service", wants / "open-vm-tools.service")
    disk = tmp_path / "guest.img"
    subprocess.run(["truncate", "-s", "64M", str(disk)], check=True)
    subprocess.run(["sfdisk", "-q", str(disk)], input="start=2048, type=83\n", text=True,
                   check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", f"offset={OFFSET}", "-d", str(tree),
                    str(disk), "60M"], check=True)
    return disk


def test_real_guest_is_adapted_inside_the_appliance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TCG: bounded everywhere (a nested host's KVM hangs the appliance for the 120 s KVM try)
    monkeypatch.setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    disk = _guest_disk(tmp_path)
    device = extfs.spec(disk, OFFSET)
    uuid = subprocess.run(["blkid", "-p", "-o", "value", "-s", "UUID", "-O", str(OFFSET),
                           str(disk)], capture_output=True, text=True, check=True).stdout.strip()
    logged: list[Change] = []
    report = adapt_linux_guest([disk], log=logged.append)
    assert extfs.read_file(device, "/etc/fstab") == f"UUID={uuid} / ext4 errors=remount-ro 0 1\n"
    modules = (extfs.read_file(device, "/etc/initramfs-tools/modules") or "").split()
    assert {"ahci", "virtio_blk", "virtio_pci", "virtio_scsi", "virtio_net"} <= set(modules)
    # no initrd.img for the kernel: created (-c) for it alone, at the cheapest level
    assert extfs.read_file(device, "/boot/initramfs-ran") == (
        f"ran -c -k {KERNEL} on rehost-src-A level 1\n")
    assert extfs.read_file(device, "/boot/grub-ran") is None  # grub.cfg edited, not regenerated
    grub = extfs.read_file(device, "/boot/grub/grub.cfg") or ""
    assert f"root=UUID={uuid} ro quiet console=tty0 console=ttyS0,115200n8" in grub
    assert extfs.read_file(device, "/etc/udev/rules.d/70-persistent-net.rules") is None
    wants = extfs.list_dir(device, "/etc/systemd/system/multi-user.target.wants") or []
    assert "open-vm-tools.service" not in wants
    codes = [c.code for c in report.changes]
    assert {"Adapt.Fstab", "Adapt.Initramfs", "Adapt.Boot", "Adapt.Network",
            "Adapt.HypervisorTools"} <= set(codes)
    assert any(n.code == "Adapt.Grub" and "edited in place" in n.message_en for n in report.notes)
    assert logged and all(c in logged for c in report.changes)
    assert report.duration_s > 0
