"""LocalImageStore: images as directories of sparse raw or qcow2 files plus manifest.json."""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from rehost.imaging.sparse import copy_range_out
from rehost.imaging.workcopy import clone_file
from rehost.storage.manifest import MANIFEST_FILE, ImageDisk, ImageRecord, read_manifest
from rehost.storage.ports import DraftDisk, ImageDraft

# another file system, or one without hard links: fall back to a reflink or a copy
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOTSUP}
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class StoreError(Exception):
    """Publishing or reading an image failed."""


class LocalImageStore:
    """A directory: root/<image_id>/{disk-<index>.raw|qcow2, manifest.json}."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def publish(self, draft: ImageDraft, *, now: dt.datetime) -> ImageRecord:
        """Build the image in a temp dir inside the store, fsync, then rename it into place."""
        final = self._dir(draft.image_id)
        if final.exists():
            raise StoreError(f"image {draft.image_id} already exists")
        partial = f"{_partial_prefix(draft.job_id)}{draft.image_id}-{uuid.uuid4().hex[:8]}"
        tmp = self.root / partial
        tmp.mkdir()
        try:
            disks = tuple(self._put_disk(d, tmp, draft.disk_format) for d in draft.disks)
            record = ImageRecord(draft.image_id, draft.name, draft.source_id, draft.job_id,
                                 now.isoformat(), disks, draft.checks, final,
                                 boot_mode=draft.boot_mode)
            _write_synced(tmp / MANIFEST_FILE, record.to_json().encode())
            _fsync_dir(tmp)
            os.rename(tmp, final)
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return record

    def discard_partial(self, job_id: str) -> int:
        """Remove what publishes of this job left half-written (a crash); returns how many."""
        prefix = _partial_prefix(job_id)
        stale = [p for p in self.root.iterdir() if p.name.startswith(prefix)]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)

    def describe(self, image_id: str) -> ImageRecord | None:
        """The image's manifest, if it exists."""
        directory = self._dir(image_id)
        return read_manifest(directory) if (directory / MANIFEST_FILE).exists() else None

    def list_images(self) -> list[ImageRecord]:
        """Every published image, by id."""
        return [read_manifest(p) for p in sorted(self.root.iterdir())
                if not p.name.startswith(".") and (p / MANIFEST_FILE).exists()]

    def delete(self, image_id: str) -> None:
        """Remove an image: renamed away first, so it vanishes at once."""
        directory = self._dir(image_id)
        if not directory.exists():
            return
        trash = self.root / f".del-{image_id}-{uuid.uuid4().hex[:8]}"
        os.rename(directory, trash)
        shutil.rmtree(trash)

    def disk_path(self, image_id: str, index: int) -> Path:
        """Path of one disk file of a published image."""
        record = self.describe(image_id)
        if record is None:
            raise StoreError(f"image {image_id} not found")
        for disk in record.disks:
            if disk.index == index:
                return record.path / disk.file
        raise StoreError(f"image {image_id} has no disk {index}")

    def _dir(self, image_id: str) -> Path:
        if not _SAFE_ID.match(image_id):
            raise StoreError(f"invalid image id {image_id!r}")
        return self.root / image_id

    def _put_disk(self, disk: DraftDisk, tmp: Path, fmt: str) -> ImageDisk:
        size = disk.path.stat().st_size
        name = f"disk-{disk.index}.{fmt}"
        if fmt == "qcow2":
            subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2",
                            str(disk.path), str(tmp / name)], check=True, capture_output=True)
            _fsync_file(tmp / name)
        else:
            place_disk(disk.path, tmp / name, linkable=disk.linkable)
        return ImageDisk(disk.index, name, "qcow2" if fmt == "qcow2" else "raw", size,
                         disk.digest_hex)


def _partial_prefix(job_id: str) -> str:
    """Name prefix of a job's publish in progress (dot: never listed as an image)."""
    if not _SAFE_ID.match(job_id):
        raise StoreError(f"invalid job id {job_id!r}")
    return f".tmp-{job_id}-"


def place_disk(src: Path, dst: Path, *, linkable: bool) -> str:
    """Put src at dst without copying its bytes where the file system allows, durably.

    A hard link when nothing writes src afterwards (linkable), else a reflink (shared extents,
    copy-on-write), else a sparse copy. Returns how ("hard link", "reflink", "sparse copy").
    """
    if linkable:
        try:
            os.link(src, dst)
            _fsync_file(dst)
            return "hard link"
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
    method = clone_file(src, dst)
    _fsync_file(dst)
    return method


def copy_sparse(src: Path, dst: Path) -> None:
    """Copy src to dst keeping holes, across file systems too, then fsync dst."""
    copy_range_out(src, offset_bytes=0, length_bytes=src.stat().st_size, dest=dst)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync_file(path)
