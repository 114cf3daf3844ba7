"""File-tree manifests of corpus images, read in libguestfs' appliance (nothing mounted here).

guestfish mounts the layout's filesystems read-only in its VM and streams `tar-out` of the
whole tree to a file on this host; each member (path, type, mode, owner, size, mtime, link
target, device numbers, xattrs, content SHA-256) becomes one manifest entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .corpus import ensure_cached
from .recipe import LAYOUTS

# (appliance device, mount point, mount options) per layout kind; the image is /dev/sda
MOUNTS = {
    "gpt-lvm": (("/dev/corpus/root", "/", "ro"), ("/dev/sda2", "/boot", "ro")),
    "btrfs": (("/dev/sda2", "/", "ro,subvol=@"), ("/dev/sda2", "/home", "ro,subvol=@home")),
    "uefi": (("/dev/sda2", "/", "ro"), ("/dev/sda1", "/boot/efi", "ro")),
}
TIMEOUT_S = 900.0
Entry = tuple[str, ...]


def source_manifest(name: str, copy: Path) -> dict[str, Entry]:
    """The manifest of the layout's cached image, read once (from `copy`, a fresh
    `corpus_image` of it) and kept beside it in the cache (`<image>.tree.json`)."""
    cached = ensure_cached(name)
    saved = cached.with_name(cached.name + ".tree.json")
    if saved.exists() and saved.stat().st_mtime >= cached.stat().st_mtime:
        return {path: tuple(entry) for path, entry in json.loads(saved.read_text()).items()}
    entries = tree_manifest(name, copy)
    partial = saved.with_name(saved.name + ".partial")
    partial.write_text(json.dumps(entries))
    partial.replace(saved)
    return entries


def tree_manifest(name: str, image: Path) -> dict[str, Entry]:
    """path -> metadata and content hash of every file of the guest's mounted tree."""
    mounts = MOUNTS[LAYOUTS[name].kind]
    with tempfile.TemporaryDirectory(prefix="corpus-tree-", dir=image.parent) as tmp:
        tar = Path(tmp) / "tree.tar"
        script = [f"add {image} readonly:true format:raw", "run"]
        script += [f"mount-options {opts} {dev} {where}" for dev, where, opts in mounts]
        script.append(f"tar-out / {tar} numericowner:true xattrs:true")
        # TCG: KVM hangs the appliance on nested hosts like CI's (as the stack tests pin it)
        env = {**os.environ, "LIBGUESTFS_BACKEND": "direct",
               "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg"}
        proc = subprocess.run(["guestfish"], input="\n".join(script) + "\n", text=True,
                              capture_output=True, env=env, timeout=TIMEOUT_S, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"guestfish on {image} failed: {proc.stderr[-2000:]}")
        return read_tar(tar)


def read_tar(tar: Path) -> dict[str, Entry]:
    """One entry per tar member."""
    entries: dict[str, Entry] = {}
    with tarfile.open(tar, "r:") as archive:
        for member in archive:
            content = ""
            if member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                sha = hashlib.sha256()
                while chunk := handle.read(1 << 20):
                    sha.update(chunk)
                content = sha.hexdigest()
            xattrs = sorted((k, v) for k, v in member.pax_headers.items()
                            if k.startswith("SCHILY.xattr"))
            entries[member.name.removeprefix("./")] = (
                member.type.decode(), oct(member.mode), str(member.uid), str(member.gid),
                str(member.size), str(member.mtime), member.linkname,
                f"{member.devmajor}:{member.devminor}", repr(xattrs), content)
    return entries


def digest(entries: dict[str, Entry]) -> str:
    """One hash of the whole manifest."""
    text = "\n".join(f"{path}\0{chr(0).join(entries[path])}" for path in sorted(entries))
    return hashlib.sha256(text.encode()).hexdigest()


def differences(left: dict[str, Entry], right: dict[str, Entry], limit: int = 20) -> list[str]:
    """The first paths that differ, with both sides (for an assertion message)."""
    paths = sorted(p for p in left.keys() | right.keys() if left.get(p) != right.get(p))
    return [f"{p}: {left.get(p)} != {right.get(p)}" for p in paths[:limit]]
