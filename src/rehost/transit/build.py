"""Processing: turn a job's target disks into a published image."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rehost.storage.manifest import DiskFormat, ImageRecord
from rehost.storage.ports import DraftDisk, ImageDraft, ImageStore


@dataclass(frozen=True, slots=True)
class BuildDisk:
    """A synced target disk: its file, source size, wanted size and agreed digest."""

    index: int
    path: Path
    size_bytes: int
    target_size_bytes: int
    digest_hex: str
    linkable: bool = False  # nothing writes path after the publish: the store may link it


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """What the Processing step turns into an image."""

    job_id: str
    source_id: str
    image_id: str
    image_name: str
    disks: tuple[BuildDisk, ...]
    disk_format: DiskFormat = "raw"
    boot_mode: str = "BIOS"


class DiskPreparer(Protocol):
    """Resizes and checks the target disks in place (rehost.imaging); returns check notes."""

    def __call__(self, disks: Sequence[BuildDisk]) -> Sequence[str]: ...


def no_preparation(disks: Sequence[BuildDisk]) -> Sequence[str]:
    """Default preparer: leaves the disks as they are."""
    return ()


def build_image(
    request: BuildRequest,
    *,
    store: ImageStore,
    now: dt.datetime,
    prepare: DiskPreparer = no_preparation,
) -> ImageRecord:
    """Prepare the disks, then publish them; a failure leaves no image in the store."""
    checks = tuple(prepare(request.disks))
    draft = ImageDraft(
        image_id=request.image_id,
        name=request.image_name,
        source_id=request.source_id,
        job_id=request.job_id,
        disks=tuple(DraftDisk(d.index, d.path, d.digest_hex, d.linkable) for d in request.disks),
        disk_format=request.disk_format,
        checks=checks,
        boot_mode=request.boot_mode,
    )
    return store.publish(draft, now=now)
