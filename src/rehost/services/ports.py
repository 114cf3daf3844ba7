"""Ports the control plane drives: the transit pool and the image stores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from rehost.domain.ids import ImageId, JobId, RegionId, TransitId
from rehost.domain.models import Region


class TransitPool(Protocol):
    """Opens and closes per-job receivers; returns the endpoint agents connect to."""

    def open(
        self, *, transit_id: TransitId, job_id: JobId, region_id: RegionId, work_dir: Path
    ) -> str:
        """Make a receiver for the job ready; return its `host:port` data endpoint."""
        ...

    def disconnect(self, *, job_id: JobId) -> None:
        """Drop the job's data connections (pause); its journal and disks stay."""
        ...

    def close(self, *, transit_id: TransitId, job_id: JobId, work_dir: Path) -> None:
        """Stop the receiver and remove its work directory."""
        ...


class ImageDeleter(Protocol):
    """The part of a region's image store the services need: delete an image's files."""

    def delete(self, image_id: ImageId) -> None:
        """Remove the image's files (no error when already gone)."""
        ...


ImageStoreFactory = Callable[[Region], ImageDeleter]


class NoTransitPool:
    """The data plane is not wired: transits get no endpoint; jobs wait in Preparing."""

    def open(
        self, *, transit_id: TransitId, job_id: JobId, region_id: RegionId, work_dir: Path
    ) -> str:
        """Return no endpoint."""
        return ""

    def disconnect(self, *, job_id: JobId) -> None:
        """Nothing to drop."""

    def close(self, *, transit_id: TransitId, job_id: JobId, work_dir: Path) -> None:
        """Nothing to stop."""


class DirectoryImageStore:
    """Deletes `<image_store_path>/<image_id>` (until `rehost.storage` provides its store)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def delete(self, image_id: ImageId) -> None:
        """Remove the image directory or file if present."""
        import shutil

        target = self.root / image_id
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def directory_image_store(region: Region) -> ImageDeleter:
    """Default ImageStoreFactory: one directory per region."""
    return DirectoryImageStore(Path(region.image_store_path))
