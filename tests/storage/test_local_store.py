"""LocalImageStore publishes atomically, keeps holes, writes a manifest; build_image uses it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from rehost.imaging.workcopy import WORK_DIR_NAME, fresh_working_copy
from rehost.storage import DraftDisk, ImageDraft, LocalImageStore, StoreError
from rehost.transit.build import BuildDisk, BuildRequest, build_image

NOW = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
MIB = 1024 * 1024


def _disk(path: Path) -> Path:
    with path.open("wb") as f:
        f.truncate(64 * MIB)
        f.seek(10 * MIB)
        f.write(os.urandom(MIB))
    return path


def test_publish_raw_keeps_holes_and_writes_manifest(tmp_path: Path) -> None:
    store = LocalImageStore(tmp_path / "store")
    src = _disk(tmp_path / "d0.raw")
    rec = store.publish(ImageDraft("m-1", "web", "s-1", "j-1", (DraftDisk(0, src, "ab"),)),
                        now=NOW)
    path = store.disk_path("m-1", 0)
    assert path.read_bytes() == src.read_bytes()
    assert path.stat().st_blocks * 512 < 4 * MIB
    again = store.describe("m-1")
    assert again == rec and again.disks[0].size_bytes == 64 * MIB
    assert again.created_at == NOW.isoformat()
    assert [r.image_id for r in store.list_images()] == ["m-1"]
    with pytest.raises(StoreError):
        store.publish(ImageDraft("m-1", "web", "s-1", "j-1", ()), now=NOW)
    store.delete("m-1")
    assert store.describe("m-1") is None and os.listdir(store.root) == []


def test_qcow2_publish(tmp_path: Path) -> None:
    store = LocalImageStore(tmp_path / "store")
    src = _disk(tmp_path / "d0.raw")
    store.publish(ImageDraft("m-2", "q", "s", "j", (DraftDisk(0, src, ""),), "qcow2"), now=NOW)
    out = store.disk_path("m-2", 0)
    subprocess.run(["qemu-img", "compare", "-q", str(src), str(out)], check=True)


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    store = LocalImageStore(tmp_path / "store")
    good = _disk(tmp_path / "d0.raw")
    disks = (BuildDisk(0, good, 64 * MIB, 64 * MIB, ""),
             BuildDisk(1, tmp_path / "missing.raw", MIB, MIB, ""))
    with pytest.raises(FileNotFoundError):
        build_image(BuildRequest("j", "s", "m-3", "img", disks), store=store, now=NOW)
    assert os.listdir(store.root) == []


def test_build_calls_the_preparer(tmp_path: Path) -> None:
    store = LocalImageStore(tmp_path / "store")
    disk = _disk(tmp_path / "d0.raw")
    seen: list[int] = []

    def prepare(disks: Sequence[BuildDisk]) -> Sequence[str]:
        for d in disks:
            os.truncate(d.path, d.target_size_bytes)
            seen.append(d.index)
        return ("resized disk 0",)

    req = BuildRequest("j", "s", "m-4", "img", (BuildDisk(0, disk, 64 * MIB, 80 * MIB, "x"),))
    rec = build_image(req, store=store, now=NOW, prepare=prepare)
    assert seen == [0] and rec.checks == ("resized disk 0",)
    assert store.disk_path("m-4", 0).stat().st_size == 80 * MIB


def test_a_publish_killed_midway_is_invisible_and_discarded_per_job(tmp_path: Path) -> None:
    store = LocalImageStore(tmp_path / "store")
    src = _disk(tmp_path / "d0.raw")
    half = store.root / ".tmp-j-1-m-1-0123abcd"  # what kill -9 during publish leaves
    half.mkdir()
    (half / "disk-0.raw").write_bytes(b"half")
    other = store.root / ".tmp-j-2-m-2-0123abcd"  # another job's publish in progress
    other.mkdir()
    assert store.list_images() == [] and store.describe("m-1") is None
    assert store.discard_partial("j-1") == 1
    assert not half.exists() and other.exists()
    store.publish(ImageDraft("m-1", "web", "s-1", "j-1", (DraftDisk(0, src, ""),)), now=NOW)
    assert [r.image_id for r in store.list_images()] == ["m-1"]
    with pytest.raises(StoreError):
        store.discard_partial("../j-1")


def test_working_copy_clones_and_a_fresh_one_discards_the_half_built(tmp_path: Path) -> None:
    received = _disk(tmp_path / "disk-0.raw")
    leftover = tmp_path / WORK_DIR_NAME
    leftover.mkdir()
    (leftover / "disk-0.raw").write_bytes(b"half-resized")
    (leftover / "stale.tmp").write_bytes(b"x")
    build_dir, method = fresh_working_copy(tmp_path, ["disk-0.raw"])
    assert method in ("reflink", "sparse copy")
    assert sorted(os.listdir(build_dir)) == ["disk-0.raw"]
    copy = build_dir / "disk-0.raw"
    assert copy.read_bytes() == received.read_bytes()
    assert copy.stat().st_blocks * 512 < 4 * MIB  # holes stayed holes
    with copy.open("r+b") as f:
        f.write(b"changed")
    assert received.read_bytes()[:7] != b"changed"
