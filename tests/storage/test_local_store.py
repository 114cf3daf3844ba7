"""LocalImageStore publishes atomically, keeps holes, writes a manifest; build_image uses it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

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
