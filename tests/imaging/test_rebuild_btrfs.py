"""A btrfs disk shrunk below its partition's size is rebuilt file-level in the libguestfs
appliance: same UUID and label, every subvolume at its old ID and path (a deleted one's gap
kept), the read-only flag and the default subvolume as they were, every file's owner, mode,
times, xattrs, hard links, holes, device nodes and contents; `btrfs check` clean.

The disk is made by the real mkfs.btrfs and filled through a loop mount; it is read back the
same way (read-only). Under TCG, as on CI's hosts.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

from diskfactory import run
from fslayouts import loop_device, partition, place
from loopmount import mounted
from rehost.diskfmt.shrink import shrink_limit
from rehost.imaging.layout import read_layout
from rehost.imaging.rebuildfs import parse_subvolumes
from rehost.imaging.resize import resize_disk

pytestmark = [pytest.mark.slow, pytest.mark.qemu]
MIB = 1 << 20
Entry = tuple[object, ...]
SUBVOLUMES = [(256, "@"), (258, "@home"), (259, "@/srv/data"), (260, "@ro")]


def _fill(top: Path) -> None:
    """Subvolumes (one deleted: a gap in the IDs), files of every kind, a read-only subvolume,
    @ as the default."""
    run("btrfs", "-q", "subvolume", "create", top / "@")
    run("btrfs", "-q", "subvolume", "create", top / "gone")
    run("btrfs", "-q", "subvolume", "create", top / "@home")
    (top / "@/srv").mkdir()
    run("btrfs", "-q", "subvolume", "create", top / "@/srv/data")
    run("btrfs", "-q", "subvolume", "create", top / "@ro")
    run("btrfs", "-q", "subvolume", "delete", top / "gone")
    etc = top / "@/etc"
    etc.mkdir()
    (etc / "fstab").write_text("UUID=x / btrfs subvol=@ 0 0\n")
    (top / "@/srv/data/blob").write_bytes(os.urandom(24 * MIB))
    os.link(top / "@/srv/data/blob", top / "@/srv/data/blob-link")
    with (top / "@home/sparse").open("wb") as f:
        f.truncate(64 * MIB)
        f.seek(40 * MIB)
        f.write(b"end of a sparse file")
    (top / "@home/user").mkdir(mode=0o700)
    os.chown(top / "@home/user", 1000, 1000)
    os.setxattr(top / "@home/user", "user.rehost", b"kept")
    os.symlink("../srv/data/blob", top / "@/etc/link")
    os.mkfifo(top / "@/etc/fifo")
    os.mknod(top / "@/etc/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    (top / "@ro/readme").write_text("read-only subvolume\n")
    run("btrfs", "property", "set", "-ts", top / "@ro", "ro", "true")
    run("btrfs", "subvolume", "set-default", "256", top)


def _tree(top: Path) -> dict[str, Entry]:
    """Every path under top: mode, owner, size, mtime, link count, xattrs, target or digest."""
    out: dict[str, Entry] = {}
    for path in sorted(top.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(top))
        extra: object = ""
        if stat.S_ISREG(st.st_mode):
            extra = hashlib.sha256(path.read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            extra = os.readlink(path)
        elif stat.S_ISCHR(st.st_mode):
            extra = st.st_rdev
        xattrs = sorted((k, os.getxattr(path, k, follow_symlinks=False))
                        for k in os.listxattr(path, follow_symlinks=False))
        out[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_nlink,
                    xattrs, extra)
    return out


def _btrfs_facts(dev: str, top: Path) -> dict[str, object]:
    """UUID, label, subvolumes, read-only ones and the default, read on the mounted top."""
    tags = run("blkid", "-p", "-o", "export", dev)
    return {"tags": sorted(t for t in tags.splitlines() if t.split("=")[0] in ("UUID", "LABEL")),
            "subvolumes": [(s.id, s.path) for s in parse_subvolumes(
                run("btrfs", "subvolume", "list", top))],
            "readonly": [s.path for s in parse_subvolumes(
                run("btrfs", "subvolume", "list", "-r", top))],
            "default": run("btrfs", "subvolume", "get-default", top).split()[:2]}


def test_btrfs_rebuilt_smaller_keeps_subvolumes_ids_flags_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    image = tmp_path / "btrfs.img"
    ((start, size),) = partition(image, 1024 * MIB, "type=linux\n")
    fs = tmp_path / "part.fs"
    with fs.open("wb") as f:
        f.truncate(size)
    run("mkfs.btrfs", "-q", "-f", "-L", "data fs", fs)
    with mounted(fs, tmp_path / "fill", "loop") as top:
        _fill(top)
    place(image, fs, start)

    def read_back(disk: Path, part_size: int) -> tuple[dict[str, object], dict[str, Entry]]:
        with loop_device(disk, offset=start, size=part_size) as dev, \
                mounted(dev, tmp_path / "read", "ro,subvolid=5") as top:
            return _btrfs_facts(dev, top), _tree(top)

    facts, tree = read_back(image, size)
    assert facts["subvolumes"] == SUBVOLUMES and facts["readonly"] == ["@ro"], facts
    limit = shrink_limit(image)
    assert limit.file_level and limit.min_size_bytes < 400 * MIB, limit

    done = resize_disk(image, target_size_bytes=limit.min_size_bytes)
    assert done.action == "rebuild" and image.stat().st_size == limit.min_size_bytes, done
    new = read_layout(image).partitions[0]
    assert new.start_bytes == start and new.size_bytes < size
    with loop_device(image, offset=start, size=new.size_bytes) as dev:
        check = subprocess.run(["btrfs", "check", "--readonly", dev], capture_output=True,
                               text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    new_facts, new_tree = read_back(image, new.size_bytes)
    assert new_facts == facts
    assert new_tree == tree
    sparse = tmp_path / "read"
    with loop_device(image, offset=start, size=new.size_bytes) as dev, \
            mounted(dev, sparse, "ro,subvol=@home") as home:
        assert (home / "sparse").stat().st_blocks * 512 < MIB  # the hole stayed a hole
