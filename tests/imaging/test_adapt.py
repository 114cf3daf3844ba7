"""adapt_guest_shell over an in-memory guest: each change made, logged and reported."""

from __future__ import annotations

import gzip
from pathlib import Path

from checkdisks import newc
from fakeguest import FakeGuest
from kernelfiles import host_kernel, sata_initramfs
from rehost.imaging.adapt import AdaptOptions, AdaptReport, Change, adapt_guest_shell
from rehost.imaging.guestedit import appliance_device, rewrite_args, rewrite_fstab
from rehost.imaging.initramfs import read_initramfs
from rehost.imaging.initramfs_overlay import module_name, parse_modules_dep
from rehost.imaging.pipeline import Preparation

ROOT_UUID = "6f1c1c0e-5c1b-4f4e-9d0a-2b1f3f3e9a11"
SWAP_UUID = "0c0ffee0-0000-4000-8000-000000000001"
VMWARE_DEBIAN = {
    "/etc/fstab": "/dev/sda1 / ext4 errors=remount-ro 0 1\n/dev/sda5 none swap sw 0 0\n"
                  "# /dev/sdb1 /old ext4 defaults 0 2\nproc /proc proc defaults 0 0\n",
    "/etc/initramfs-tools/modules": "# List of modules\nahci\nmptspi\nvmw_pvscsi\n",
    "/etc/default/grub": 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="resume=/dev/sda5"\n',
    "/boot/grub/grub.cfg": "menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-6.1.0-50-amd64 "
                           "root=/dev/sda1 ro quiet\n\tinitrd\t/boot/initrd.img-6.1.0-50-amd64\n"
                           "}\n",
    "/etc/udev/rules.d/70-persistent-net.rules": 'SUBSYSTEM=="net", ATTR{address}=="00:50:56:'
                                                 'aa:bb:cc", NAME="eth0"\n',
    "/lib/modules/6.1.0-50-amd64/modules.dep": "",
    "/lib/modules/5.10.0-30-amd64/modules.dep": "",
}


def _debian() -> FakeGuest:
    return FakeGuest(VMWARE_DEBIAN, programs={"update-initramfs", "update-grub", "cloud-init"},
                     enabled_units={"open-vm-tools.service"},
                     uuids={"/dev/sda1": ROOT_UUID, "/dev/sda5": SWAP_UUID})


def test_vmware_debian_guest_is_adapted_and_every_change_logged() -> None:
    guest, logged = _debian(), []
    changes, notes = adapt_guest_shell(guest, log=logged.append)
    files = guest.files
    assert files["/etc/fstab"].startswith(f"UUID={ROOT_UUID} / ext4")
    assert f"UUID={SWAP_UUID} none swap" in files["/etc/fstab"]
    assert "# /dev/sdb1 /old" in files["/etc/fstab"]
    assert files["/etc/initramfs-tools/modules"].split()[-4:] == [
        "virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net"]
    assert "ahci" in files["/etc/initramfs-tools/modules"]
    assert "COMPRESSLEVEL=1 update-initramfs -c -k 6.1.0-50-amd64" in guest.scripts
    assert "COMPRESSLEVEL=1 update-initramfs -c -k 5.10.0-30-amd64" in guest.scripts
    # grub.cfg exists: edited in place, grub-mkconfig not run (the UUIDs did not change)
    assert not any(s.startswith("out=$(update-grub") for s in guest.scripts)
    assert (f'GRUB_CMDLINE_LINUX="resume=UUID={SWAP_UUID} console=tty0 console=ttyS0,115200n8"'
            in files["/etc/default/grub"])
    assert f"root=UUID={ROOT_UUID} ro quiet console=tty0 console=ttyS0" in files[
        "/boot/grub/grub.cfg"]
    assert "/etc/udev/rules.d/70-persistent-net.rules" not in files
    assert guest.enabled_units == set()
    assert sorted(map(repr, logged)) == sorted(map(repr, [*changes, *notes]))
    codes = {c.code for c in changes}
    assert codes == {"Adapt.Fstab", "Adapt.Initramfs", "Adapt.Boot", "Adapt.Network",
                     "Adapt.HypervisorTools"}
    assert all(c.message_en and c.message_zh for c in logged)
    assert {n.message_en for n in notes} == {
        "cloud-init is present", "qemu-guest-agent is absent",
        "GRUB configuration edited in place, not regenerated (filesystems and UUIDs unchanged)",
        *(f"virtio could not be appended to the initramfs of {v} (no initramfs in /boot): "
          "rebuilding it in the guest" for v in ("6.1.0-50-amd64", "5.10.0-30-amd64"))}
    report = AdaptReport(tuple(changes), 1.0, tuple(notes))
    assert any("open-vm-tools.service" in line for line in report.lines())


def test_adapting_twice_changes_nothing_more_but_rebuilds_initramfs() -> None:
    guest = _debian()
    adapt_guest_shell(guest, log=lambda c: None)
    first = dict(guest.files)
    changes, _ = adapt_guest_shell(guest, log=lambda c: None)
    assert guest.files == first
    assert [c.code for c in changes] == ["Adapt.Initramfs"]


def test_dracut_guest_gets_a_conf_file_and_each_kernel_rebuilt() -> None:
    guest = FakeGuest({"/etc/fstab": "UUID=x / xfs defaults 0 0\n",
                       "/etc/sysconfig/network-scripts/ifcfg-ens192":
                           "DEVICE=ens192\nHWADDR=00:50:56:aa:bb:cc\nBOOTPROTO=dhcp\n",
                       "/usr/lib/modules/5.14.0-427.el9.x86_64/vmlinuz": ""},
                      programs={"dracut"}, enabled_units={"hv-kvp-daemon.service"}, uuids={})
    changes, _ = adapt_guest_shell(guest, log=lambda c: None)
    assert 'add_drivers+=" virtio_pci virtio_blk virtio_scsi virtio_net "' in guest.files[
        "/etc/dracut.conf.d/50-rehost-virtio.conf"]
    assert "dracut -f --kver 5.14.0-427.el9.x86_64" in guest.scripts
    assert not any("COMPRESSLEVEL" in script for script in guest.scripts)
    assert "HWADDR" not in guest.files["/etc/sysconfig/network-scripts/ifcfg-ens192"]
    assert "BOOTPROTO=dhcp" in guest.files["/etc/sysconfig/network-scripts/ifcfg-ens192"]
    assert {c.code for c in changes} == {"Adapt.Initramfs", "Adapt.Network",
                                         "Adapt.HypervisorTools"}


def test_initramfs_that_has_virtio_is_not_rebuilt_and_only_the_other_kernel_is() -> None:
    guest = _debian()
    guest.blobs["/boot/initrd.img-6.1.0-50-amd64"] = b"\0" * 512 + gzip.compress(newc({
        f"usr/lib/modules/6.1.0-50-amd64/kernel/drivers/{d}.ko.xz": b"m"
        for d in ("virtio_pci", "virtio_blk", "virtio_scsi")}))
    guest.blobs["/boot/initrd.img-5.10.0-30-amd64"] = newc({"init": b"#!/bin/sh"})
    guest.files["/boot/initrd.img-5.10.0-30-amd64"] = ""  # /boot lists it: -u, not -c
    changes, _ = adapt_guest_shell(guest, log=lambda c: None)
    rebuilt = [s for s in guest.scripts if "update-initramfs" in s and "for n" not in s]
    assert rebuilt == ["COMPRESSLEVEL=1 update-initramfs -u -k 5.10.0-30-amd64"]
    assert any(c.code == "Adapt.Initramfs" and "5.10.0-30-amd64" in c.message_en
               and "6.1.0" not in c.message_en for c in changes)


def test_every_initramfs_with_virtio_or_builtin_means_no_rebuild_at_all() -> None:
    guest = _debian()
    for version in ("6.1.0-50-amd64", "5.10.0-30-amd64"):
        guest.files[f"/lib/modules/{version}/modules.builtin"] = "".join(
            f"kernel/drivers/virtio/{d}.ko\n" for d in ("virtio_pci", "virtio_blk",
                                                        "virtio_scsi"))
    changes, notes = adapt_guest_shell(guest, log=lambda c: None)
    assert not any("update-initramfs -" in s for s in guest.scripts)
    assert "Adapt.Initramfs" not in {c.code for c in changes}
    assert any(n.code == "Adapt.Initramfs" and "already has the virtio drivers" in n.message_en
               and "已包含" in n.message_zh for n in notes)
    assert guest.files["/etc/initramfs-tools/modules"] == VMWARE_DEBIAN[
        "/etc/initramfs-tools/modules"]


def test_grub_cfg_absent_is_regenerated_by_the_guest_tool() -> None:
    guest = _debian()
    del guest.files["/boot/grub/grub.cfg"]
    changes, _ = adapt_guest_shell(guest, log=lambda c: None)
    assert any(s.startswith("out=$(update-grub") for s in guest.scripts)
    assert any(c.code == "Adapt.Grub" and "regenerated (update-grub)" in c.message_en
               for c in changes)


def test_keep_static_network_changes_no_network_file_and_names_what_it_kept() -> None:
    guest = _debian()
    guest.files["/etc/sysconfig/network-scripts/ifcfg-eth0"] = (
        "DEVICE=eth0\nHWADDR=00:50:56:aa:bb:cc\nBOOTPROTO=static\nIPADDR=10.0.0.5\n")
    guest.files["/etc/network/interfaces"] = "auto eth0\niface eth0 inet static\n"
    before = dict(guest.files)
    changes, notes = adapt_guest_shell(guest, log=lambda c: None,
                                       options=AdaptOptions(keep_static_network=True))
    for path in ("/etc/udev/rules.d/70-persistent-net.rules",
                 "/etc/sysconfig/network-scripts/ifcfg-eth0", "/etc/network/interfaces"):
        assert guest.files[path] == before[path]
    assert "Adapt.Network" not in {c.code for c in changes}
    kept = [n for n in notes if n.code == "Adapt.NetworkKept"]
    assert len(kept) == 1 and "70-persistent-net.rules" in kept[0].message_en
    assert "ifcfg-eth0" in kept[0].message_en and "keep_static_network" in kept[0].message_zh
    assert "Adapt.Fstab" in {c.code for c in changes}  # the rest of the adaptation still ran


def test_guest_without_initramfs_tool_is_reported_not_adapted() -> None:
    guest = FakeGuest({}, programs=set(), enabled_units=set(), uuids={})
    changes, notes = adapt_guest_shell(guest, log=lambda c: None)
    assert changes == []
    assert any(n.code == "Adapt.Initramfs" and "not rebuilt" in n.message_en for n in notes)


def test_device_names_map_to_the_appliance_and_unknown_ones_stay() -> None:
    assert appliance_device("/dev/hda1") == "/dev/sda1"
    assert appliance_device("/dev/xvdb2") == "/dev/sdb2"
    assert appliance_device("/dev/nvme1n1p3") == "/dev/sdb3"
    assert appliance_device("/dev/mapper/vg-root") is None
    text, done = rewrite_fstab("/dev/sdc1 /srv ext4 defaults 0 2\n", lambda d: None)
    assert text == "/dev/sdc1 /srv ext4 defaults 0 2\n" and done == []


def test_console_added_once_and_existing_console_kept() -> None:
    args, done = rewrite_args("root=UUID=abc ro console=tty1", lambda d: None)
    assert args == "root=UUID=abc ro console=tty1 console=ttyS0,115200n8"
    assert rewrite_args(args, lambda d: None) == (args, [])
    assert done == ["added console=ttyS0,115200n8"]
    assert isinstance(Change("c", "e", "z"), Change)


def test_windows_guest_is_flagged_not_adapted_and_left_untouched() -> None:
    files = {"/Windows/System32/config/SYSTEM": "hive"}
    guest = FakeGuest(files, programs=set(), enabled_units=set(), uuids={}, os_type="windows")
    changes, notes = adapt_guest_shell(guest, log=lambda c: None)
    assert changes == [] and [n.code for n in notes] == ["Adapt.NotAdapted"]
    assert "not adapted" in notes[0].message_en and "未适配" in notes[0].message_zh
    assert guest.files == files and guest.scripts == []


def test_manifest_lines_of_a_build_list_what_rehost_changed() -> None:
    change = Change("Adapt.Fstab", "/etc/fstab: /dev/sda1 -> UUID=abc (/)", "/etc/fstab：…")
    note = Change("Adapt.Agents", "cloud-init is absent", "cloud-init未安装", changed=False)
    prep = Preparation(resizes=(), checks=(), adaptation=AdaptReport((change,), 2.0, (note,)))
    assert prep.lines() == ("adapt: Adapt.Fstab: /etc/fstab: /dev/sda1 -> UUID=abc (/)",
                            "adapt: Adapt.Agents: cloud-init is absent")
    assert Preparation(resizes=(), checks=()).lines() == ()


def test_virtio_is_appended_from_the_guest_kernel_and_its_tool_is_not_run(
        tmp_path: Path) -> None:
    """The guest's own modules (this host's Debian kernel stands in) appended, no rebuild."""
    kernel = host_kernel()
    version = kernel.name
    guest = _debian()
    for old in ("6.1.0-50-amd64", "5.10.0-30-amd64"):
        del guest.files[f"/lib/modules/{old}/modules.dep"]
    base = f"/lib/modules/{version}"
    guest.files[f"{base}/modules.dep"] = (kernel / "modules.dep").read_text()
    guest.files[f"{base}/modules.builtin"] = (kernel / "modules.builtin").read_text()
    deps = parse_modules_dep(guest.files[f"{base}/modules.dep"])
    for rel in (r for r in deps if module_name(r) in ("virtio_pci", "virtio_blk", "virtio_scsi",
                                                       "sd_mod")):
        for path in (rel, *deps[rel]):
            guest.blobs[f"{base}/{path}"] = (kernel / path).read_bytes()
    initrd = f"/boot/initrd.img-{version}"
    original = sata_initramfs(kernel, tmp_path, compress=lambda d: gzip.compress(d, 1))
    guest.blobs[initrd] = original
    changes, notes = adapt_guest_shell(guest, log=lambda c: None)
    assert not any("update-initramfs -" in s for s in guest.scripts)
    assert guest.blobs[initrd].startswith(original)
    assert read_initramfs(guest.blobs[initrd]).has_driver("virtio_blk")
    appended = [c for c in changes if c.code == "Adapt.Initramfs" and c.path == initrd]
    assert len(appended) == 1 and "virtio_blk" in appended[0].message_en
    assert "追加" in appended[0].message_zh
    assert "virtio_blk" in guest.files["/etc/initramfs-tools/modules"].split()  # next rebuild
    assert not any("rebuilding it in the guest" in n.message_en for n in notes)
