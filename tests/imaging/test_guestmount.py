"""The appliance probe's output parsed into the mounts that make a guest's tree."""

from __future__ import annotations

import base64

from rehost.imaging.guestmount import MountStep, mount_plan, parse_probe, probe_script

ROOT_UUID = "78d9c820-a4ae-481a-a33e-879c75315056"
BOOT_UUID = "0f3c1a8e-1111-4222-8333-444455556666"
ESP_UUID = "ABCD-1234"


def _root(device: str, fstab: str, subvol: str = "") -> str:
    return f"ROOT {device} {'/' + subvol if subvol else ''} " + base64.b64encode(
        fstab.encode()).decode()


def test_lvm_root_with_boot_and_esp_by_uuid_swap_and_tmpfs_skipped() -> None:
    fstab = (f"/dev/mapper/vg0-root / xfs defaults 0 0\nUUID={BOOT_UUID} /boot xfs defaults 0 0\n"
             f"UUID={ESP_UUID} /boot/efi vfat umask=0077 0 1\n/dev/vg0/swap none swap sw 0 0\n"
             "tmpfs /tmp tmpfs defaults 0 0\n# UUID=gone /old ext4 defaults 0 0\n")
    output = "\n".join([
        f'DEV /dev/sda1 TYPE=vfat UUID={ESP_UUID} PARTUUID=1-1',
        f'DEV /dev/sda2 TYPE=xfs UUID={BOOT_UUID}',
        'DEV /dev/sda3 TYPE=LVM2_member UUID=pv',
        f'DEV /dev/mapper/vg0-root TYPE=xfs UUID={ROOT_UUID}',
        'DEV /dev/mapper/vg0-swap TYPE=swap UUID=sw',
        _root("/dev/mapper/vg0-root", fstab)])
    devices, roots = parse_probe(output)
    assert mount_plan(devices, roots) == [
        MountStep("/dev/mapper/vg0-root", "/"), MountStep("/dev/sda2", "/boot"),
        MountStep("/dev/sda1", "/boot/efi")]


def test_btrfs_subvolumes_mount_with_their_subvol_option() -> None:
    fstab = (f"UUID={ROOT_UUID} / btrfs subvol=@,compress=zstd 0 0\n"
             f"UUID={ROOT_UUID} /home btrfs subvol=/@home 0 0\n/dev/sda1 none swap sw 0 0\n")
    devices, roots = parse_probe("\n".join([
        'DEV /dev/sda1 TYPE=swap', f'DEV /dev/sda2 TYPE=btrfs UUID={ROOT_UUID}',
        _root("/dev/sda2", fstab, subvol="@")]))
    assert mount_plan(devices, roots) == [MountStep("/dev/sda2", "/", "subvol=@"),
                                          MountStep("/dev/sda2", "/home", "subvol=@home")]


def test_kernel_device_names_and_labels_with_spaces_resolve() -> None:
    fstab = "/dev/sda1 / ext4 errors=remount-ro 0 1\nLABEL=my\\040data /srv ext4 nofail 0 2\n"
    devices, roots = parse_probe("\n".join([
        f'DEV /dev/sda1 TYPE=ext4 UUID={ROOT_UUID} LABEL=root',
        'DEV /dev/sdb1 TYPE=ext4 UUID=d LABEL=my\\ data', _root("/dev/sda1", fstab)]))
    plan = mount_plan(devices, roots)
    assert plan == [MountStep("/dev/sda1", "/"), MountStep("/dev/sdb1", "/srv")]


def test_the_root_that_mounts_itself_wins_over_a_copy_of_etc_on_a_data_disk() -> None:
    own = f"UUID={ROOT_UUID} / ext4 defaults 0 1\n"
    devices, roots = parse_probe("\n".join([
        'DEV /dev/sda1 TYPE=ext4 UUID=backup', f'DEV /dev/sdb1 TYPE=ext4 UUID={ROOT_UUID}',
        _root("/dev/sda1", own), _root("/dev/sdb1", own)]))
    assert mount_plan(devices, roots) == [MountStep("/dev/sdb1", "/")]


def test_no_linux_root_leaves_the_guest_to_libguestfs_inspection() -> None:
    devices, roots = parse_probe('DEV /dev/sda1 TYPE=ntfs UUID=x\nDEV /dev/sda2 TYPE=swap')
    assert roots == [] and mount_plan(devices, roots) is None
    two = [_root("/dev/sda1", "UUID=a / ext4 0 0\n"), _root("/dev/sdb1", "UUID=b / ext4 0 0\n")]
    assert mount_plan(*parse_probe("\n".join(two))) is None  # ambiguous: inspection decides


def test_garbage_lines_are_ignored() -> None:
    devices, roots = parse_probe("noise\nROOT /dev/sda1 not-base64!!\nDEV\nROOT x y z w\n")
    assert devices == [] and roots == []


def test_the_script_looks_only_at_the_guest_disks_and_lvs() -> None:
    script = probe_script(["/dev/sda", "/dev/sdb"])
    assert "for d in /dev/sda /dev/sdb;" in script and "/dev/mapper/*" in script
    assert "ro,norecovery" in script and "ro,noload" in script


def test_a_needed_filesystem_the_probe_did_not_see_means_inspection_decides() -> None:
    fstab = f"UUID={ROOT_UUID} / ext4 defaults 0 1\nUUID={BOOT_UUID} /boot ext4 defaults 0 2\n"
    root = f"DEV /dev/sda2 TYPE=ext4 UUID={ROOT_UUID}"
    assert mount_plan(*parse_probe(f"{root}\n{_root('/dev/sda2', fstab)}")) is None
    optional = fstab.replace("defaults 0 2", "nofail 0 2")
    assert mount_plan(*parse_probe(f"{root}\n{_root('/dev/sda2', optional)}")) == [
        MountStep("/dev/sda2", "/")]
