"""Builds real bootable Linux disks (BIOS/MBR with syslinux, UEFI/GPT with GRUB) and data disks.

Nothing is mounted: partition tables come from sfdisk, filesystems from `mkfs.ext4 -d` and
`mkfs.vfat` + mtools, the kernel from Debian's linux-image package (`rehost.sample.kernel`,
downloaded once and cached), the initramfs from `rehost.sample.initramfs`.

The guest prints `REHOST-BOOT-OK root=<tree hash> data=<tree hash|none>` and powers off;
`tree_hash()` computes the same hash on the host, `expected_marker()` the whole line.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rehost.sample.initramfs import build_initramfs
from rehost.sample.kernel import Kernel, debian_kernel

BootMode = Literal["BIOS", "UEFI"]
MiB = 1024 * 1024
MARKER = "REHOST-BOOT-OK"
FAIL_MARKER = "REHOST-BOOT-FAIL"
DATA_LABEL = "rehost-data"
ROOT_LABEL = "rehost-root"
BOOT_PART_BYTES = 32 * MiB
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
SYSLINUX_MODULES = Path("/usr/lib/syslinux/modules/bios")
FILLER_PATH = "srv/filler.bin"
REQUIRED_TOOLS = ("sfdisk", "mkfs.ext4", "mkfs.vfat", "mcopy", "mmd", "syslinux",
                  "grub-mkstandalone", "busybox", "apt-get", "dpkg-deb")


@dataclass(frozen=True, slots=True)
class BootDisk:
    """A built bootable system disk and what its guest will report."""

    path: Path
    boot_mode: BootMode
    size_bytes: int
    root_uuid: str
    root_hash: str


@dataclass(frozen=True, slots=True)
class DataDisk:
    """A built data disk (one ext4 labelled rehost-data) and its file tree hash."""

    path: Path
    size_bytes: int
    tree_hash: str


def expected_marker(system: BootDisk, data: DataDisk | None = None) -> str:
    """The exact line the guest prints when everything checks out."""
    data_hash = data.tree_hash if data is not None else "none"
    return f"{MARKER} root={system.root_hash} data={data_hash}"


def copy_disk(disk: Path, dest_dir: Path) -> Path:
    """A sparse copy of a disk image (same name, in dest_dir) that a test may modify."""
    dest = dest_dir / disk.name
    subprocess.run(["cp", "--sparse=always", str(disk), str(dest)], check=True)
    return dest


def missing_tools() -> list[str]:
    """Host tools the sample builder needs that are not installed."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [t for t in REQUIRED_TOOLS if shutil.which(t, path=path) is None]


def tree_hash(root: Path) -> str:
    """Hash of a file tree exactly as the guest init computes it (sorted sha256sum lines)."""
    paths = sorted(
        ("./" + p.relative_to(root).as_posix()).encode()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    )
    lines = b"".join(
        _file_sha256(root / p.decode()[2:]).encode() + b"  " + p + b"\n" for p in paths
    )
    return hashlib.sha256(lines).hexdigest()


def _file_sha256(path: Path) -> str:
    """sha256 of a file, streamed (the filler file can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(4 * MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def build_boot_disk(
    path: Path, *, boot_mode: BootMode, size_bytes: int = 384 * MiB,
    extra_files: Mapping[str, bytes] | None = None, kernel: Kernel | None = None,
    root_uuid: str | None = None, filler_bytes: int = 0,
) -> BootDisk:
    """Build a bootable disk: boot partition (FAT) first, ext4 root last.

    `filler_bytes` of non-zero data in /srv/filler.bin raise the root's used (and minimum) size.
    """
    kernel = kernel or debian_kernel()
    root_uuid = root_uuid or str(uuid.uuid4())
    boot_serial = uuid.uuid4().hex[:8].upper()
    with tempfile.TemporaryDirectory(prefix="rehost-bootdisk-") as tmp_name:
        tmp = Path(tmp_name)
        initrd = build_initramfs(kernel, tmp / "initrd.img")
        _create_table(path, size_bytes=size_bytes, boot_mode=boot_mode)
        boot_dir, root_dir = tmp / "boot", tmp / "root"
        boot_files = _boot_files(kernel, initrd)
        _stage_root(root_dir, kernel, boot_mode=boot_mode, root_uuid=root_uuid,
                    boot_uuid=f"{boot_serial[:4]}-{boot_serial[4:]}", extra_files=extra_files)
        _write_filler(root_dir / FILLER_PATH, filler_bytes)
        if boot_mode == "BIOS":
            _stage(boot_dir, {**boot_files, "syslinux.cfg": _syslinux_cfg(kernel, root_uuid)})
        else:
            _stage(boot_dir, {"EFI/BOOT/BOOTX64.EFI": _grub_efi(tmp, kernel, root_uuid)})
            _stage(root_dir, {f"boot/{name}": data for name, data in boot_files.items()})
        fat = _make_fat(tmp / "boot.fat", boot_dir, serial=boot_serial,
                        bootable=boot_mode == "BIOS")
        _write_at(path, fat, offset=1 * MiB)
        _mkfs_ext4(path, root_dir, offset=1 * MiB + BOOT_PART_BYTES,
                   size_bytes=_last_partition_bytes(path), fs_uuid=root_uuid, label=ROOT_LABEL)
        if boot_mode == "BIOS":
            _write_at_bytes(path, SYSLINUX_MBR.read_bytes()[:440], offset=0)
        return BootDisk(path=path, boot_mode=boot_mode, size_bytes=size_bytes,
                        root_uuid=root_uuid, root_hash=tree_hash(root_dir))


def build_data_disk(
    path: Path, *, size_bytes: int = 64 * MiB, files: Mapping[str, bytes] | None = None,
    table: Literal["mbr", "gpt"] = "gpt",
) -> DataDisk:
    """Build a data disk with one ext4 partition labelled rehost-data holding `files`."""
    files = files if files is not None else _default_data_files()
    with tempfile.TemporaryDirectory(prefix="rehost-datadisk-") as tmp_name:
        stage = Path(tmp_name) / "data"
        _stage(stage, files)
        path.unlink(missing_ok=True)
        _truncate(path, size_bytes)
        label = "gpt" if table == "gpt" else "dos"
        _sfdisk(path, f"label: {label}\nstart=2048, type=L\n")
        _mkfs_ext4(path, stage, offset=1 * MiB, size_bytes=_last_partition_bytes(path),
                   fs_uuid=str(uuid.uuid4()), label=DATA_LABEL)
        return DataDisk(path=path, size_bytes=size_bytes, tree_hash=tree_hash(stage))


def _default_data_files() -> dict[str, bytes]:
    """A few files of different sizes, one nested, one sparse-ish."""
    return {
        "hello.txt": b"hello from the data disk\n",
        "nested/dir/numbers.bin": bytes(range(256)) * 4096,
        "nested/zeros.bin": b"\0" * (2 * MiB) + b"end",
    }


def _create_table(path: Path, *, size_bytes: int, boot_mode: BootMode) -> None:
    """Create the sparse file and its partition table (boot partition, then root to the end)."""
    path.unlink(missing_ok=True)
    _truncate(path, size_bytes)
    boot_sectors = BOOT_PART_BYTES // 512
    if boot_mode == "BIOS":
        script = f"label: dos\nstart=2048, size={boot_sectors}, type=c, bootable\ntype=83\n"
    else:
        script = f"label: gpt\nstart=2048, size={boot_sectors}, type=U\ntype=L\n"
    _sfdisk(path, script)


def _boot_files(kernel: Kernel, initrd: Path) -> dict[str, bytes]:
    """Kernel, initrd and config as Debian names them in /boot."""
    version = kernel.version
    return {
        f"vmlinuz-{version}": kernel.vmlinuz.read_bytes(),
        f"initrd.img-{version}": initrd.read_bytes(),
        f"config-{version}": kernel.config.read_bytes(),
    }


def _stage_root(
    root: Path, kernel: Kernel, *, boot_mode: BootMode, root_uuid: str, boot_uuid: str,
    extra_files: Mapping[str, bytes] | None,
) -> None:
    """Stage the root filesystem tree: fstab, os-release, the virtio/ext4 modules."""
    boot_mount = "/boot" if boot_mode == "BIOS" else "/boot/efi"
    fstab = (
        f"# <file system> <mount point> <type> <options> <dump> <pass>\n"
        f"UUID={root_uuid} / ext4 errors=remount-ro 0 1\n"
        f"UUID={boot_uuid} {boot_mount} vfat umask=0077 0 2\n"
        f"LABEL={DATA_LABEL} /data ext4 defaults,nofail 0 2\n"
        f"proc /proc proc defaults 0 0\n"
    )
    files = {
        "etc/fstab": fstab.encode(),
        "etc/hostname": b"rehost-guest\n",
        "etc/os-release": b'PRETTY_NAME="rehost test guest"\nID=debian\nVERSION_ID="12"\n',
        "srv/app/data.txt": b"application data\n" * 100,
    }
    for module in kernel.boot_modules:
        rel = module.relative_to(kernel.modules_dir)
        files[f"lib/modules/{kernel.version}/{rel.as_posix()}"] = module.read_bytes()
    files.update(extra_files or {})
    _stage(root, files)
    (root / "boot").mkdir(exist_ok=True)


def _write_filler(path: Path, size_bytes: int) -> None:
    """Write size_bytes of incompressible-looking, never-zero data (mkfs -d skips zero blocks)."""
    if size_bytes <= 0:
        return
    block = hashlib.sha256(b"rehost-filler").digest() * (MiB // 32)
    with path.open("wb") as handle:
        for offset in range(0, size_bytes, MiB):
            handle.write(block[: min(MiB, size_bytes - offset)])


def _syslinux_cfg(kernel: Kernel, root_uuid: str) -> bytes:
    """A syslinux config that boots straight away on the serial console."""
    version = kernel.version
    return (
        "SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\n"
        f"LABEL linux\n  LINUX /vmlinuz-{version}\n  INITRD /initrd.img-{version}\n"
        f"  APPEND {_cmdline(root_uuid)}\n"
    ).encode()


def _cmdline(root_uuid: str) -> str:
    """Kernel command line shared by both bootloaders."""
    return f"root=UUID={root_uuid} ro console=ttyS0,115200 rehost.data=LABEL={DATA_LABEL}"


def _grub_efi(tmp: Path, kernel: Kernel, root_uuid: str) -> bytes:
    """A standalone GRUB EFI binary whose embedded grub.cfg boots the kernel from the root."""
    cfg = tmp / "grub.cfg"
    cfg.write_text(
        "set timeout=0\n"
        f"search --no-floppy --fs-uuid --set=root {root_uuid}\n"
        f"linux /boot/vmlinuz-{kernel.version} {_cmdline(root_uuid)}\n"
        f"initrd /boot/initrd.img-{kernel.version}\n"
        "boot\n"
    )
    out = tmp / "BOOTX64.EFI"
    modules = "part_gpt part_msdos ext2 fat search search_fs_uuid linux normal echo configfile"
    subprocess.run(
        ["grub-mkstandalone", "-O", "x86_64-efi", "-o", str(out), f"--modules={modules}",
         f"--install-modules={modules} test", "--locales=", "--fonts=", "--themes=",
         f"boot/grub/grub.cfg={cfg}"],
        check=True, capture_output=True,
    )
    return out.read_bytes()


def _make_fat(dest: Path, tree: Path, *, serial: str, bootable: bool) -> Path:
    """Build a FAT filesystem file holding `tree` (and syslinux when bootable)."""
    _truncate(dest, BOOT_PART_BYTES)
    subprocess.run(["mkfs.vfat", "-F", "16", "-n", "BOOT", "-i", serial, str(dest)],
                   check=True, capture_output=True)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    for item in sorted(tree.rglob("*")):
        target = "::/" + item.relative_to(tree).as_posix()
        cmd = ["mmd", "-i", str(dest), target] if item.is_dir() else [
            "mcopy", "-i", str(dest), str(item), target]
        subprocess.run(cmd, check=True, capture_output=True, env=env)
    if bootable:
        subprocess.run(["syslinux", "--install", str(dest)], check=True, capture_output=True)
        subprocess.run(["mcopy", "-i", str(dest), str(SYSLINUX_MODULES / "ldlinux.c32"), "::/"],
                       check=False, capture_output=True, env=env)
    return dest


def _mkfs_ext4(
    path: Path, tree: Path, *, offset: int, size_bytes: int, fs_uuid: str, label: str
) -> None:
    """Create an ext4 filesystem holding `tree` inside the image at `offset`."""
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-b", "4096", "-U", fs_uuid, "-L", label, "-d", str(tree),
         "-E", f"offset={offset},root_owner=0:0", str(path), f"{size_bytes // 1024}k"],
        check=True, capture_output=True,
    )


def _last_partition_bytes(path: Path) -> int:
    """Size of the last partition, from sfdisk's dump."""
    out = subprocess.run(["sfdisk", "--dump", str(path)], check=True, capture_output=True,
                         text=True).stdout
    size_field = [ln for ln in out.splitlines() if "size=" in ln][-1].split("size=")[1]
    return int(size_field.split(",")[0]) * 512


def _sfdisk(path: Path, script: str) -> None:
    """Apply an sfdisk script to an image file."""
    subprocess.run(["sfdisk", "-q", "--no-reread", "--no-tell-kernel", str(path)],
                   input=script, text=True, check=True, capture_output=True)


def _stage(root: Path, files: Mapping[str, bytes]) -> None:
    """Write files (relative paths) under root."""
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _truncate(path: Path, size_bytes: int) -> None:
    """Create or resize a sparse file."""
    with path.open("ab") as handle:
        handle.truncate(size_bytes)


def _write_at(path: Path, source: Path, *, offset: int) -> None:
    """Copy a file into the image at offset, without truncating the image."""
    with source.open("rb") as src, path.open("r+b") as dst:
        dst.seek(offset)
        shutil.copyfileobj(src, dst, 4 * MiB)


def _write_at_bytes(path: Path, data: bytes, *, offset: int) -> None:
    """Overwrite bytes in the image at offset."""
    with path.open("r+b") as dst:
        dst.seek(offset)
        dst.write(data)
