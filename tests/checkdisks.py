"""Small Linux system disks laid out like real servers, for the post-migration checks.

Made by the real tools: sfdisk, pvcreate/lvcreate (on a loop device, never activated: the host
has no device-mapper), mkfs.ext4/xfs/btrfs/vfat, btrfs subvolumes on a loop mount. A filesystem
left "dirty" was mounted, written and shut down (`xfs_io -x -c "shutdown -f"`, which works on
ext4 too) without a clean unmount: ext4 keeps `needs_recovery`, XFS a log to replay.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fslayouts import make_lvs, place
from rehost.imaging.newc import file_entry, write_newc

MIB = 1 << 20
KERNEL = "6.1.0-50-amd64"
BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
SMALL_XFS = {"TEST_DIR": "1", "TEST_DEV": "1", "QA_CHECK_FS": "1"}  # mkfs.xfs under 300 MB
MISSING_UUID = "0badc0de-0000-4000-8000-000000000000"


def newc(files: Mapping[str, bytes]) -> bytes:
    """A newc cpio archive of regular files."""
    return write_newc(file_entry(name, data) for name, data in files.items())


def boot_files(*, kernel: bool = True) -> dict[str, bytes]:
    """vmlinuz, an initramfs holding virtio_blk, and the kernel config, as /boot holds them."""
    mods = f"usr/lib/modules/{KERNEL}/kernel/drivers/block/virtio_blk.ko"
    files = {f"initrd.img-{KERNEL}": gzip.compress(newc({"init": b"#!/bin/sh\n", mods: b"m"})),
             f"config-{KERNEL}": b"CONFIG_VIRTIO_BLK=m\n"}
    if kernel:
        files[f"vmlinuz-{KERNEL}"] = b"MZ" + os.urandom(64 * 1024)
    return files


def root_files(fstab: str) -> dict[str, bytes]:
    """What the checks read on a root filesystem."""
    return {"etc/fstab": fstab.encode(), f"lib/modules/{KERNEL}/modules.builtin": b"",
            "etc/hostname": b"rehost-checks\n"}


@dataclass(frozen=True)
class Fs:
    """A filesystem to make: type, size, ids, files (per subvolume for btrfs), symlinks."""

    kind: str
    size_mib: int
    files: Mapping[str, bytes] = field(default_factory=dict)
    subvols: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    dirty: bool = False
    mkfs_args: tuple[str, ...] = ()


def run(*args: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> str:
    """Run a tool; its stdout (raises with its stderr on failure)."""
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)
    assert proc.returncode == 0, f"{args}: {proc.stderr}{proc.stdout}"
    return proc.stdout


def _mkfs(fs: Fs, path: Path) -> None:
    """The empty filesystem in a file."""
    with path.open("wb") as handle:
        handle.truncate(fs.size_mib * MIB)
    if fs.kind == "ext4":
        run("mkfs.ext4", "-q", "-F", "-U", fs.uuid, *fs.mkfs_args, path)
    elif fs.kind == "xfs":
        run("mkfs.xfs", "-q", "-f", "-m", f"uuid={fs.uuid}", *fs.mkfs_args, path, env=SMALL_XFS)
    elif fs.kind == "btrfs":
        run("mkfs.btrfs", "-q", "-f", "-U", fs.uuid, *fs.mkfs_args, path)
    elif fs.kind == "vfat":
        run("mkfs.vfat", "-i", fs.uuid.replace("-", "")[:8], path)
    else:
        run("mkswap", "-q", "-U", fs.uuid, path)


@contextmanager
def mounted(path: Path) -> Iterator[Path]:
    """The filesystem file loop-mounted on a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="rehost-checkdisk-") as point:
        run("mount", "-o", "loop", path, point)
        try:
            yield Path(point)
        finally:
            run("umount", point)


def _write(base: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_bytes(data)


def make_fs(fs: Fs, path: Path) -> Path:
    """mkfs, then files written through a loop mount (left dirty when asked)."""
    _mkfs(fs, path)
    if fs.kind == "vfat":
        for name, data in fs.files.items():
            src = path.with_name("upload")
            src.write_bytes(data)
            parts = name.split("/")
            for depth in range(1, len(parts)):
                subprocess.run(["mmd", "-D", "s", "-i", str(path), "::/" + "/".join(parts[:depth])],
                               env={**os.environ, "MTOOLS_SKIP_CHECK": "1"}, capture_output=True,
                               check=False)
            run("mcopy", "-i", path, src, f"::/{name}", env={"MTOOLS_SKIP_CHECK": "1"})
            src.unlink()
        return path
    if fs.kind == "swap":
        return path
    with mounted(path) as point:
        for name, files in fs.subvols.items():
            run("btrfs", "subvolume", "create", point / name)
            _write(point / name, files)
        _write(point, fs.files)
        for name, target in fs.links.items():
            os.symlink(target, point / name)
        if fs.dirty:
            os.sync()
            _write(point, {f"late/file{i}": os.urandom(256 * 1024) for i in range(8)})
            run("xfs_io", "-x", "-c", "shutdown -f", point)
    return path


def gpt(image: Path, size_mib: int, script: str) -> list[tuple[int, int]]:
    """A sparse disk with a GPT and fake boot code in its MBR; (start, size) per partition."""
    image.unlink(missing_ok=True)
    with image.open("wb") as handle:
        handle.truncate(size_mib * MIB)
    subprocess.run(["sfdisk", "-q", str(image)], input="label: gpt\n" + script, text=True,
                   check=True, capture_output=True)
    with image.open("r+b") as handle:
        handle.write(b"\xeb\x63\x90" + bytes(range(1, 256)) + bytes(range(1, 182)))
    parts = json.loads(run("sfdisk", "-J", image))["partitiontable"]["partitions"]
    return [(int(p["start"]) * 512, int(p["size"]) * 512) for p in parts]


def lvm_disk(directory: Path, *, kind: str) -> Path:
    """BIOS/GPT: BIOS boot, a `kind` /boot partition, LVM PV with a dirty `kind` root LV + swap."""
    vg = f"rh-{uuid.uuid4().hex[:6]}"  # a dash: /dev/mapper doubles it
    boot = Fs(kind, 64, files=boot_files())
    swap = Fs("swap", 16)
    root_uuid = str(uuid.uuid4())
    root_spec = f"/dev/mapper/{vg.replace('-', '--')}-root" if kind == "ext4" else \
        f"UUID={root_uuid}"
    fstab = (f"{root_spec} / {kind} errors=remount-ro 0 1\nUUID={boot.uuid} /boot {kind} "
             f"defaults 0 2\n/dev/{vg}/swap none swap sw 0 0\nproc /proc proc defaults 0 0\n")
    root = Fs(kind, 128, files=root_files(fstab), uuid=root_uuid, dirty=True)
    image = directory / f"lvm-{kind}.img"
    (_, (boot_at, _), pv) = gpt(image, 1 + 64 + 128 + 16 + 8, f"size=1MiB, type={BIOS_BOOT}\n"
                                "size=64MiB, type=linux\ntype=lvm\n")
    offsets = make_lvs(image, offset=pv[0], size=pv[1], vg=vg,
                       lvs={"root": 128 * MIB, "swap": 16 * MIB})
    for fs, at in ((boot, boot_at), (root, offsets["root"]), (swap, offsets["swap"])):
        place(image, make_fs(fs, directory / f"{kind}.fs"), at)
    return image


def btrfs_disk(directory: Path, *, broken: bool = False) -> Path:
    """UEFI/GPT: ESP, btrfs with subvolumes @ (root), @home, @old (a stale copy of /etc)."""
    esp = Fs("vfat", 32, files={"EFI/BOOT/BOOTX64.EFI": b"MZ efi", "EFI/debian/grubx64.efi":
                                b"MZ grub"})
    volume_uuid = str(uuid.uuid4())
    fstab = (f"UUID={volume_uuid} / btrfs defaults,subvol=@ 0 0\n"
             f"UUID={volume_uuid} /home btrfs subvol=/@home 0 0\n"
             f"UUID={esp.uuid.replace('-', '')[:4].upper()}-"
             f"{esp.uuid.replace('-', '')[4:8].upper()} /boot/efi vfat umask=0077 0 1\n")
    if broken:
        fstab += f"UUID={MISSING_UUID} /srv ext4 defaults 0 2\n"
    root = {**root_files(fstab), **{f"boot/{n}": d for n, d in
                                    boot_files(kernel=not broken).items()}}
    btrfs = Fs("btrfs", 160, uuid=volume_uuid, subvols={
        "@": root, "@home": {"user/notes.txt": b"hello\n"}, "@old": root_files(fstab)},
        links={"@/vmlinuz": f"boot/vmlinuz-{KERNEL}"})
    image = directory / ("btrfs-broken.img" if broken else "btrfs.img")
    (esp_at, _), (btrfs_at, _) = gpt(image, 1 + 32 + 160 + 1, f"size=32MiB, type={ESP_TYPE}\n"
                                     "type=linux\n")
    place(image, make_fs(esp, directory / "esp.fs"), esp_at)
    place(image, make_fs(btrfs, directory / "btrfs.fs"), btrfs_at)
    return image


def data_disk(directory: Path, fs: Fs, name: str) -> tuple[Path, Path]:
    """A GPT disk with one partition; (disk, the filesystem file to corrupt before placing)."""
    return directory / f"{name}.img", make_fs(fs, directory / f"{name}.fs")


def place_data(image: Path, fs_file: Path, size_mib: int) -> Path:
    """The filesystem file into a one-partition GPT disk."""
    ((at, _),) = gpt(image, size_mib + 2, "type=linux\n")
    place(image, fs_file, at)
    return image


def corrupt_xfs(directory: Path) -> Path:
    """An XFS whose first AG's free-block count is wrong (xfs_repair -n exits 1)."""
    image, fs_file = data_disk(directory, Fs("xfs", 64, files={"a.txt": b"a" * 5000}), "badxfs")
    run("xfs_db", "-x", "-c", "agf 0", "-c", "write -d freeblks 7", fs_file)
    return place_data(image, fs_file, 64)


def corrupt_btrfs(directory: Path) -> Path:
    """A btrfs (single metadata copy) whose root tree block is overwritten in the middle."""
    image, fs_file = data_disk(directory, Fs("btrfs", 128, files={"a.txt": b"b" * 5000},
                                             mkfs_args=("-m", "single")), "badbtrfs")
    super_ = run("btrfs", "inspect-internal", "dump-super", fs_file)
    logical = next(line.split()[1] for line in super_.splitlines() if line.startswith("root\t")
                   or line.startswith("root "))
    mapped = run("btrfs-map-logical", "-l", logical, fs_file)
    physical = int(mapped.split("physical ")[1].split()[0])
    with fs_file.open("r+b") as handle:
        handle.seek(physical + 200)
        handle.write(os.urandom(512))
    return place_data(image, fs_file, 128)


def dirty_corrupt_ext4(directory: Path) -> Path:
    """An ext4 with a cleared inode, then mounted, written and shut down: needs_recovery."""
    fs = Fs("ext4", 32, files={"keep.txt": b"k" * 5000, "gone.txt": b"g" * 5000})
    image = directory / "badext4.img"
    fs_file = directory / "badext4.fs"
    make_fs(fs, fs_file)
    run("debugfs", "-w", "-R", "clri /gone.txt", fs_file)
    with mounted(fs_file) as point:
        os.sync()
        _write(point, {"late.txt": os.urandom(64 * 1024)})
        run("xfs_io", "-x", "-c", "shutdown -f", point)
    return place_data(image, fs_file, 32)
