"""File-tree manifests of corpus images, read from this host through read-only loop devices.

Each of the layout's filesystems is mounted read-only (no journal replay, no log recovery) from
a read-only loop device over its partition or LV (LV positions from rehost's own LVM parser:
this host has no device-mapper), and the combined tree is walked: each path (type, mode,
owner, size, mtime, link target, device numbers, xattrs, content SHA-256, and the first path
of its hard-link group) becomes one manifest entry. Nothing of the guest runs here; reading
the tree in libguestfs' appliance under TCG took 80-130 s per image, this takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

from rehost.imaging.layout import ImageLayout, read_layout

from .cache import run
from .corpus import ensure_cached
from .diskcheck import lv_ranges, readonly_loop
from .recipe import LAYOUTS

Entry = tuple[str, ...]
MANIFEST_VERSION = "host-walk-1"  # part of the cached manifest's name: a new format, a new file
# read-only mounts that never write: no journal replay (ext4), no log recovery (XFS); nouuid:
# a copy of the same XFS may be mounted by another test worker at the same time
OPTIONS = {"ext4": "ro,noload", "xfs": "ro,norecovery,nouuid", "btrfs": "ro"}


class Mount(NamedTuple):
    """One filesystem of a layout: a partition (1-based) or an LV of the VG on a partition."""

    partition: int
    lv: str  # "" for the partition itself
    where: str  # mount point inside the guest tree
    fs: str
    extra: str = ""  # more mount options (btrfs subvolume)


MOUNTS = {
    "gpt-lvm": (Mount(3, "root", "/", "ext4"), Mount(2, "", "/boot", "ext4")),
    "lvm-xfs": (Mount(2, "root", "/", "xfs"), Mount(1, "", "/boot", "ext4")),
    "btrfs": (Mount(2, "", "/", "btrfs", "subvol=@"),
              Mount(2, "", "/home", "btrfs", "subvol=@home")),
    "uefi": (Mount(2, "", "/", "ext4"), Mount(1, "", "/boot/efi", "vfat")),
    "ext4-mbr": (Mount(1, "", "/", "ext4"),),
}


def source_manifest(name: str, copy: Path) -> dict[str, Entry]:
    """The manifest of the layout's cached image, read once (from `copy`, a fresh
    `corpus_image` of it) and kept beside it in the cache."""
    cached = ensure_cached(name)
    saved = cached.with_name(f"{cached.name}.tree-{MANIFEST_VERSION}.json")
    if saved.exists() and saved.stat().st_mtime >= cached.stat().st_mtime:
        return {path: tuple(entry) for path, entry in json.loads(saved.read_text()).items()}
    entries = tree_manifest(name, copy)
    partial = saved.with_name(saved.name + ".partial")
    partial.write_text(json.dumps(entries))
    partial.replace(saved)
    return entries


def mount_range(image: Path, layout: ImageLayout, mount: Mount) -> tuple[int, int]:
    """(offset, size) in the image of the partition or linear LV a mount reads."""
    part = layout.partitions[mount.partition - 1]
    if not mount.lv:
        return part.start_bytes, part.size_bytes
    (offset, size), = lv_ranges(image, part.start_bytes)[mount.lv]  # one range of the PV
    return offset, size


def tree_manifest(name: str, image: Path) -> dict[str, Entry]:
    """path -> metadata and content hash of every file of the guest's mounted tree."""
    layout = read_layout(image)
    fat: list[tuple[str, int]] = []  # (mount point, offset): read with mtools, see _fat_tree
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="corpus-tree-")))
        devices: dict[tuple[int, str], str] = {}  # one loop device per filesystem (btrfs twice)
        for mount in MOUNTS[LAYOUTS[name].kind]:
            if mount.fs == "vfat":  # this host's kernel may have no vfat
                fat.append((mount.where.strip("/"), mount_range(image, layout, mount)[0]))
                continue
            key = (mount.partition, mount.lv)
            if key not in devices:
                devices[key] = stack.enter_context(
                    readonly_loop(image, *mount_range(image, layout, mount)))
            options = ",".join(o for o in (OPTIONS[mount.fs], mount.extra) if o)
            stack.enter_context(_mounted(devices[key], root / mount.where.lstrip("/"), options))
        entries = walk(root)
    for where, offset in fat:
        entries.update(_fat_tree(image, offset, where))
    return entries


@contextmanager
def _mounted(device: str, target: Path, options: str) -> Iterator[None]:
    """A read-only mount of device on target (nothing to flush on the way out)."""
    run("mount", "-o", options, device, target)
    try:
        yield
    finally:
        run("umount", target)


def _fat_tree(image: Path, offset: int, where: str) -> dict[str, Entry]:
    """The entries of a FAT filesystem, copied out with mtools (`mcopy -s -m`: file times kept)
    and walked; FAT has no owner, mode or directory times of its own: those are left out."""
    with tempfile.TemporaryDirectory(prefix="corpus-fat-") as tmp:
        proc = subprocess.run(["mcopy", "-s", "-m", "-n", "-i", f"{image}@@{offset}", "::/*",
                               tmp], capture_output=True, text=True, check=False,
                              env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
        if proc.returncode != 0 and "no match" not in proc.stderr.lower():
            raise RuntimeError(f"mcopy of the FAT at {offset} in {image}: {proc.stderr[-500:]}")
        found = walk(Path(tmp))
    entries = {}
    for path, entry in found.items():
        kind, size, mtime, content = entry[0], entry[4], entry[5], entry[9]
        full = where if path == "." else f"{where}/{path}"
        entries[full] = (kind, "", "", "", size, "" if kind == "d" else mtime, "", "", "",
                         content, "")
    return entries


def walk(root: Path) -> dict[str, Entry]:
    """One entry per path under root, in sorted order (hard links point at the first path)."""
    entries: dict[str, Entry] = {}
    first_link: dict[tuple[int, int], str] = {}
    for path in sorted(_paths(root)):
        full = root / path if path else root
        st = full.lstat()
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "?")
        target = os.readlink(full) if kind == "l" else ""
        content, linked = "", ""
        if kind == "f":
            if st.st_nlink > 1:
                linked = first_link.setdefault((st.st_dev, st.st_ino), path)
            content = _sha256(full)
        device = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}" if kind in "bc" else ""
        entries[path or "."] = (
            kind, oct(stat.S_IMODE(st.st_mode)), str(st.st_uid), str(st.st_gid),
            str(st.st_size) if kind == "f" else "", str(int(st.st_mtime)), target, device,
            repr(_xattrs(full)), content, linked if linked != path else "")
    return entries


_KINDS = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
          stat.S_IFBLK: "b", stat.S_IFIFO: "p", stat.S_IFSOCK: "s"}


def _paths(root: Path) -> Iterator[str]:
    """Every path under root, relative ("" for root), directories not followed through links."""
    yield ""
    for top, dirs, files in os.walk(root):
        rel = os.path.relpath(top, root)
        for name in (*dirs, *files):
            yield name if rel == "." else f"{rel}/{name}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _xattrs(path: Path) -> list[tuple[str, str]]:
    names = os.listxattr(path, follow_symlinks=False)
    return sorted((n, os.getxattr(path, n, follow_symlinks=False).hex()) for n in names)


def digest(entries: dict[str, Entry]) -> str:
    """One hash of the whole manifest."""
    text = "\n".join(f"{path}\0{chr(0).join(entries[path])}" for path in sorted(entries))
    return hashlib.sha256(text.encode()).hexdigest()


def differences(left: dict[str, Entry], right: dict[str, Entry], limit: int = 20) -> list[str]:
    """The first paths that differ, with both sides (for an assertion message)."""
    paths = sorted(p for p in left.keys() | right.keys() if left.get(p) != right.get(p))
    return [f"{p}: {left.get(p)} != {right.get(p)}" for p in paths[:limit]]
