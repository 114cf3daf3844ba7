"""The image store port and the draft of an image to publish."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rehost.storage.manifest import DiskFormat, ImageRecord


@dataclass(frozen=True, slots=True)
class DraftDisk:
    """A finished disk file to put into an image."""

    index: int
    path: Path
    digest_hex: str
    # nothing writes path after the publish (a build's working copy, or the received disk of a
    # job that sends no further cycle): the store may hard-link it instead of copying
    linkable: bool = False


@dataclass(frozen=True, slots=True)
class ImageDraft:
    """Everything needed to publish an image."""

    image_id: str
    name: str
    source_id: str
    job_id: str
    disks: tuple[DraftDisk, ...]
    disk_format: DiskFormat = "raw"
    checks: tuple[str, ...] = ()
    boot_mode: str = "BIOS"


class ImageStore(Protocol):
    """A region's image store."""

    def publish(self, draft: ImageDraft, *, now: dt.datetime) -> ImageRecord:
        """Store the image atomically: afterwards it is complete, or absent."""
        ...

    def discard_partial(self, job_id: str) -> int:
        """Remove what an interrupted publish of this job left behind; returns how many."""
        ...

    def describe(self, image_id: str) -> ImageRecord | None:
        """The image's manifest, if it exists."""
        ...

    def list_images(self) -> list[ImageRecord]:
        """Every published image."""
        ...

    def delete(self, image_id: str) -> None:
        """Remove an image (no error if absent)."""
        ...

    def disk_path(self, image_id: str, index: int) -> Path:
        """Where disk index of an image lives (to boot or export it)."""
        ...
