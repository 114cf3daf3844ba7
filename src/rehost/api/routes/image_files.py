"""/api/v1/images/{id}: disk download (HTTP Range) and export to qcow2 / vmdk / vhdx."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict

from rehost.api.deps import Account, Ctx
from rehost.api.schemas.resources import ExportOut, disk_out
from rehost.services import image_files

router = APIRouter()


class ExportIn(BaseModel):
    """POST /images/{id}/export."""

    model_config = ConfigDict(extra="forbid")
    format: str


@router.get("/images/{image_id}/disks/{index}", tags=["images"], response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}},
                              "description": "the disk file"},
                       206: {"content": {"application/octet-stream": {}},
                             "description": "the requested byte range"}})
def download_disk(image_id: str, index: int, ctx: Ctx, account: Account,
                  format: Annotated[str, Query()] = "") -> FileResponse:
    """Download one disk (Range requests resume); `format` picks an earlier export."""
    disk = image_files.disk_file(ctx, account, image_id, index, fmt=format)
    return FileResponse(disk.path, media_type="application/octet-stream",
                        filename=f"{image_id}-{disk.path.name}")


@router.post("/images/{image_id}/export", tags=["images"])
def export_image(image_id: str, body: ExportIn, ctx: Ctx, account: Account) -> ExportOut:
    """Convert every disk with qemu-img (blocks until done); download them with ?format=."""
    disks = image_files.export(ctx, account, image_id, body.format)
    return ExportOut(image_id=image_id, format=body.format,
                     disks=[disk_out(d, image_id) for d in disks])
