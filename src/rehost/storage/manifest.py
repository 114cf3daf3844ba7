"""An image's manifest: what a published image is made of."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

DiskFormat = Literal["raw", "qcow2"]
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True, slots=True)
class ImageDisk:
    """One disk file of an image."""

    index: int
    file: str
    format: DiskFormat
    size_bytes: int
    digest_hex: str


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """A published image as its manifest describes it; path is its directory in the store."""

    image_id: str
    name: str
    source_id: str
    job_id: str
    created_at: str
    disks: tuple[ImageDisk, ...]
    checks: tuple[str, ...]
    path: Path
    boot_mode: str = "BIOS"  # how the source booted: BIOS or UEFI (verification boots the same)

    def to_json(self) -> str:
        """The manifest document."""
        doc = asdict(self)
        doc.pop("path")
        return json.dumps(doc, indent=2, ensure_ascii=False)


def read_manifest(directory: Path) -> ImageRecord:
    """Parse directory/manifest.json."""
    doc: dict[str, Any] = json.loads((directory / MANIFEST_FILE).read_text())
    disks = tuple(ImageDisk(**d) for d in doc.pop("disks"))
    return ImageRecord(disks=disks, checks=tuple(doc.pop("checks")), path=directory, **doc)
