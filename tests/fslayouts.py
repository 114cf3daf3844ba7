"""Build disk images with LVM2, XFS, btrfs, swap and FAT by the real tools (no mounting)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from diskfactory import MIB, fill_random, populate_tree, run

LVM_ENV = {**os.environ, "LVM_SUPPRESS_FD_WARNINGS": "1"}


@dataclass(frozen=True)
class FsImage:
    """A filesystem at `start_bytes` of an image, the files it holds and its used bytes."""

    kind: str
    start_bytes: int
    size_bytes: int
    used_bytes: int
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class LayoutDisk:
    """A disk image and the filesystems placed in it (in partitions or LVs)."""

    path: Path
    size_bytes: int
    filesystems: dict[str, FsImage]

    @property
    def used_bytes(self) -> int:
        """Sum of the filesystems' used bytes."""
        return sum(f.used_bytes for f in self.filesystems.values())


def _protofile(root: Path) -> str:
    """An mkfs.xfs -p prototype describing the tree under `root`."""
    lines = ["/dev/null", "0 0", "d--755 0 0"]

    def walk(d: Path, depth: int) -> None:
        for p in sorted(d.iterdir()):
            if p.is_dir():
                lines.append(f"{' ' * depth}{p.name} d--755 0 0")
                walk(p, depth + 1)
                lines.append(f"{' ' * depth}$")
            else:
                lines.append(f"{' ' * depth}{p.name} ---644 0 0 {p}")

    walk(root, 1)
    lines.append("$")
    return "\n".join(lines) + "\n"


def used_bytes(kind: str, path: Path) -> int:
    """Used bytes as the filesystem's own tools count them."""
    if kind == "ext4":
        out = run("dumpe2fs", "-h", path)
        f = dict(re.findall(r"^([^:\n]+):\s+(\S+)", out, re.M))
        return (int(f["Block count"]) - int(f["Free blocks"])) * int(f["Block size"])
    if kind == "xfs":
        out = run("xfs_db", "-r", "-c", "sb 0", "-c", "p dblocks fdblocks blocksize", path)
        v = dict(re.findall(r"(\w+) = (\d+)", out))
        return (int(v["dblocks"]) - int(v["fdblocks"])) * int(v["blocksize"])
    if kind == "btrfs":
        out = run("btrfs", "inspect-internal", "dump-super", path)
        return int(re.search(r"^bytes_used\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    if kind == "vfat":
        out = run("fsck.vfat", "-n", "-v", path)
        m = re.search(r"(\d+) bytes per cluster", out)
        c = re.search(r"(\d+) files, (\d+)/\d+ clusters", out)
        assert m and c, out
        return int(c.group(2)) * int(m.group(1))
    return 4096  # swap: the header page


def make_fs(kind: str, path: Path, size_bytes: int, *, files_bytes: int, seed: int) -> FsImage:
    """A filesystem image file full of stale random data in its free space, populated."""
    path.unlink(missing_ok=True)
    with path.open("wb") as f:
        f.truncate(size_bytes)
    fill_random(path, 0, size_bytes, seed=seed)
    tree = path.with_suffix(".tree")
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    files = populate_tree(tree, files_bytes, seed=seed) if files_bytes and kind != "swap" else {}
    if kind == "ext4":
        run("mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-d", tree, path)
    elif kind == "xfs":
        proto = path.with_suffix(".proto")
        proto.write_text(_protofile(tree))
        run("mkfs.xfs", "-q", "-f", "-K", "-p", proto, path)
    elif kind == "btrfs":
        run("mkfs.btrfs", "-q", "-f", "-K", "--rootdir", tree, path)
    elif kind == "vfat":
        run("mkfs.vfat", path)
        run("mcopy", "-s", "-i", path, *[str(p) for p in tree.iterdir()], "::/")
    else:
        run("mkswap", "-q", path)
    shutil.rmtree(tree)
    return FsImage(kind, 0, size_bytes, used_bytes(kind, path), files)


def place(image: Path, fs_file: Path, start_bytes: int) -> None:
    """Write a filesystem image file into `image` at `start_bytes`."""
    with fs_file.open("rb") as src, image.open("r+b") as dst:
        dst.seek(start_bytes)
        shutil.copyfileobj(src, dst, 8 * MIB)
    fs_file.unlink()


@contextmanager
def loop_device(image: Path, *, offset: int, size: int) -> Iterator[str]:
    """A loop device over a byte range of `image`, detached afterwards."""
    dev = run("losetup", "-f", "--show", "-o", str(offset), "--sizelimit", str(size),
              image).strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def lvm_config(dev: str) -> str:
    """LVM settings that see only `dev`, need no device-mapper and write no backups."""
    return (f'devices{{filter=["a|^{dev}$|","r|.*|"] obtain_device_list_from_udev=0 '
            'use_devicesfile=0 scan_lvs=0} activation{udev_sync=0 udev_rules=0} '
            'global{use_lvmlockd=0 activation=0} backup{backup=0 archive=0}')


def lvm(dev: str, *args: str) -> str:
    """Run one LVM command restricted to `dev`."""
    proc = subprocess.run([args[0], "--config", lvm_config(dev), *args[1:]], env=LVM_ENV,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr}")
    return proc.stdout


def make_lvs(image: Path, *, offset: int, size: int, lvs: dict[str, int],
             vg: str = "") -> dict[str, int]:
    """pvcreate/vgcreate/lvcreate in a byte range of `image`; returns each LV's disk offset.

    lvs: LV name -> bytes; vg: the VG's name (default: a random one).
    """
    vg = vg or f"vg{uuid.uuid4().hex[:8]}"
    with loop_device(image, offset=offset, size=size) as dev:
        lvm(dev, "pvcreate", "-q", dev)
        lvm(dev, "vgcreate", "-q", vg, dev)
        for name, lv_bytes in lvs.items():
            lvm(dev, "lvcreate", "-q", "-an", "--zero", "n", "-L", f"{lv_bytes}b", "-n", name, vg)
        pe_start = int(lvm(dev, "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o",
                           "pe_start", dev).strip())
        extent = int(lvm(dev, "vgs", "--noheadings", "--units", "b", "--nosuffix", "-o",
                         "vg_extent_size", vg).strip())
        rows = lvm(dev, "lvs", "--noheadings", "-o", "lv_name,seg_pe_ranges", vg)
    out = {}
    for row in rows.splitlines():
        name, ranges = row.split()
        first_pe = int(ranges.split(":")[1].split("-")[0])
        out[name] = offset + pe_start + first_pe * extent
    return out


def partition(image: Path, size_bytes: int, script: str) -> list[tuple[int, int]]:
    """Stale random disk with a GPT from an sfdisk script; (start, size) of each partition."""
    image.unlink(missing_ok=True)
    with image.open("wb") as f:
        f.truncate(size_bytes)
    fill_random(image, 0, size_bytes, seed=7)
    run("sfdisk", "-q", image, stdin="label: gpt\n" + script)
    out = run("sfdisk", "-J", image)
    parts = re.findall(r'"start":\s*(\d+),\s*"size":\s*(\d+)', out)
    return [(int(s) * 512, int(n) * 512) for s, n in parts]


def make_lvm_disk(directory: Path, *, root_kind: str = "ext4",
                  files_bytes: int = 40 * MIB) -> LayoutDisk:
    """GPT: ext4 /boot, LVM PV with a root LV (ext4 or XFS) and a swap LV, free extents stale."""
    image = directory / f"lvm-{root_kind}.img"
    root_bytes = (320 if root_kind == "xfs" else 160) * MIB  # mkfs.xfs wants 300 MB or more
    size_mib = 32 + root_bytes // MIB + 32 + 96 + 2
    (boot, pv) = partition(image, size_mib * MIB, "size=32MiB, type=linux\ntype=lvm\n")
    offsets = make_lvs(image, offset=pv[0], size=pv[1],
                       lvs={"root": root_bytes, "swap": 32 * MIB})
    fss = {}
    for name, kind, at, size, seed in (("boot", "ext4", boot[0], boot[1], 1),
                                       ("root", root_kind, offsets["root"], root_bytes, 2),
                                       ("swap", "swap", offsets["swap"], 32 * MIB, 3)):
        tmp = directory / f"{name}.fs"
        fs = make_fs(kind, tmp, size, files_bytes=files_bytes if name == "root" else MIB,
                     seed=seed)
        place(image, tmp, at)
        fss[name] = FsImage(kind, at, size, fs.used_bytes, fs.files)
    return LayoutDisk(image, size_mib * MIB, fss)


def make_single_fs_disk(directory: Path, kind: str, *, size_mib: int = 320,
                        files_bytes: int = 40 * MIB) -> LayoutDisk:
    """GPT with one partition holding `kind` (xfs, btrfs, vfat), free space stale."""
    image = directory / f"{kind}.img"
    ((start, size),) = partition(image, size_mib * MIB, "type=linux\n")
    tmp = directory / f"{kind}.fs"
    fs = make_fs(kind, tmp, size, files_bytes=files_bytes, seed=5)
    place(image, tmp, start)
    return LayoutDisk(image, size_mib * MIB, {kind: FsImage(kind, start, size, fs.used_bytes,
                                                            fs.files)})
