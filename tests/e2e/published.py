"""Where `rehost server` keeps a published image's disk files (tests read them on this host)."""

from __future__ import annotations

from pathlib import Path

from rehost.sample.stack import LocalStack


def published_disk(stack: LocalStack, image_id: str) -> Path:
    """The system disk file of a published image (in the server's image store)."""
    image = stack.json("image", "describe", image_id)
    disk = next(d for d in image["manifest"]["disks"] if d["index"] == 0)
    assert disk["format"] == "raw", disk
    regions = stack.json("region", "list")["regions"]
    store = next(r["image_store_path"] for r in regions if r["region_id"] == image["region_id"])
    found = [p for p in Path(store).rglob(disk["file"]) if image_id in str(p)]
    assert len(found) == 1, (disk, store, found)
    return found[0]
