"""Where an image's disk files are, and their export to qcow2 / vmdk / vhdx with `qemu-img`."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rehost.db.tables import TransitHostRow, TransitSlotRow
from rehost.domain import errors
from rehost.domain.exports import EXPORT_FORMATS
from rehost.domain.ids import AccountId
from rehost.services import lookup
from rehost.services.context import ServiceContext

EXPORT_DIR = "exports"
QEMU_IMG_TIMEOUT_S = 3600


@dataclass(frozen=True, slots=True)
class DiskFile:
    """One disk of an image as a file on this server."""

    index: int
    path: Path
    format: str
    size_bytes: int  # virtual disk size from the manifest
    exported: bool = False  # made by `export` (served with ?format=), not the published file


@dataclass(frozen=True, slots=True)
class ImageLocation:
    """An image's directory and disks; `host` names the transit host keeping it, if not here."""

    directory: Path
    disks: tuple[DiskFile, ...]
    host: str = ""


def _disk(directory: Path, doc: dict[str, Any]) -> DiskFile:
    index, fmt = int(doc["index"]), str(doc.get("format", "raw"))
    # the image store's naming when a manifest does not say (rehost.storage.local)
    name = str(doc.get("file") or f"disk-{index}.{fmt}")
    return DiskFile(index=index, path=directory / name, format=fmt,
                    size_bytes=int(doc.get("size_bytes", 0)))


def _disks(directory: Path, manifest: dict[str, Any]) -> tuple[DiskFile, ...]:
    disks = (_disk(directory, d) for d in manifest.get("disks", []))
    return tuple(sorted(disks, key=lambda d: d.index))


def locate(ctx: ServiceContext, account_id: AccountId, image_id: str) -> ImageLocation:
    """The image's location (its directory in the region's store, or its transit host)."""
    with ctx.db.read() as session:
        row = lookup.image_row(session, account_id, image_id)
        region = lookup.region_row(session, account_id, row.region_id)
        host = session.scalars(
            select(TransitHostRow.name)
            .join(TransitSlotRow, TransitSlotRow.host_id == TransitHostRow.id)
            .where(TransitSlotRow.image_id == image_id)).first()
    manifest = dict(row.manifest)
    directory = Path(manifest.get("path") or Path(region.image_store_path) / image_id)
    return ImageLocation(directory=directory, disks=_disks(directory, manifest), host=host or "")


def _not_here(image_id: str, host: str) -> errors.InvalidStatus:
    return errors.InvalidStatus(
        "Image.NotOnServer", f"Image {image_id} is kept on transit host {host}, not on this "
        "server; read it there (its image store directory).",
        f"镜像 {image_id} 保存在中转主机 {host} 上，不在本服务器；请在该主机的镜像库目录读取。")


def disk_file(ctx: ServiceContext, account_id: AccountId, image_id: str, index: int, *,
              fmt: str = "") -> DiskFile:
    """One disk as published (fmt "") or as an earlier export in `fmt`."""
    where = locate(ctx, account_id, image_id)
    if where.host:
        raise _not_here(image_id, where.host)
    disk = next((d for d in where.disks if d.index == index), None)
    if disk is None:
        raise errors.NotFound("InvalidDiskIndex.NotFound", f"Image {image_id} has no disk "
                              f"{index}; its disks are {[d.index for d in where.disks]}.",
                              f"镜像 {image_id} 没有磁盘 {index}；其磁盘为 "
                              f"{[d.index for d in where.disks]}。")
    if fmt:
        disk = DiskFile(index, _export_path(where.directory, index, _checked(fmt)), fmt,
                        disk.size_bytes, exported=True)
    if not disk.path.is_file():
        hint = f"run `rehost image export {image_id} --format {fmt}` first" if fmt else \
            "the image store lost it; delete the image and migrate again"
        raise errors.NotFound("ImageDisk.NotFound", f"Disk file {disk.path} is missing: {hint}.",
                              f"磁盘文件 {disk.path} 不存在：{hint}。")
    return disk


def _checked(fmt: str) -> str:
    if fmt not in EXPORT_FORMATS:
        raise errors.invalid("Format", f"format must be one of {', '.join(EXPORT_FORMATS)}, "
                             f"got {fmt!r}.", f"format 只能是 {'、'.join(EXPORT_FORMATS)} 之一，"
                             f"当前为 {fmt!r}。")
    return fmt


def _export_path(directory: Path, index: int, fmt: str) -> Path:
    return directory / EXPORT_DIR / f"disk-{index}.{fmt}"


def export(ctx: ServiceContext, account_id: AccountId, image_id: str,
           fmt: str) -> tuple[DiskFile, ...]:
    """Convert every disk to `fmt` beside the image (replacing an older export)."""
    _checked(fmt)
    where = locate(ctx, account_id, image_id)
    if where.host:
        raise _not_here(image_id, where.host)
    done = []
    for disk in where.disks:
        target = _export_path(where.directory, disk.index, fmt)
        _convert(disk, target, fmt)
        done.append(DiskFile(disk.index, target, fmt, disk.size_bytes, exported=True))
    return tuple(done)


def _convert(disk: DiskFile, target: Path, fmt: str) -> None:
    target.parent.mkdir(exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    argv = ["qemu-img", "convert", "-q", "-f", disk.format, "-O", fmt, str(disk.path),
            str(partial)]
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True,
                       timeout=QEMU_IMG_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        partial.unlink(missing_ok=True)
        detail = getattr(exc, "stderr", "") or str(exc)
        raise errors.RehostError("ImageExport.Failed", f"qemu-img could not convert "
                                 f"{disk.path} to {fmt}: {detail.strip()}",
                                 f"qemu-img 无法把 {disk.path} 转换为 {fmt}：{detail.strip()}",
                                 ) from exc
    os.replace(partial, target)  # a half-written export is never served
