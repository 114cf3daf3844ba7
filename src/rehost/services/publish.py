"""Publish an image to its region's libvirt or Glance target, with progress, retried safely.

The image store stays the source of truth: a publication is a copy. Its row records what
exists remotely after each disk, so a second attempt after a failure (or a second publish)
finds what the first did instead of uploading it again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from rehost.db.tables import PublicationRow, SourceRow
from rehost.domain import errors
from rehost.domain.ids import AccountId
from rehost.domain.publish import (
    GlanceTarget,
    LibvirtTarget,
    Publication,
    PublishStatus,
    Target,
    check_kind,
    machine_size,
    os_distro,
)
from rehost.services import image_files, lookup, publish_targets
from rehost.services.context import ServiceContext
from rehost.storage.publish_ports import (
    LaunchInfo,
    PublishDisk,
    Publisher,
    PublishOrder,
    bytes_total,
)

STALE_AFTER = timedelta(minutes=5)  # a Publishing row not updated for this long was interrupted
PublisherFactory = Callable[[Target], Publisher]


def default_publisher(target: Target) -> Publisher:
    """The real adapter for a target (libvirt-python or openstacksdk)."""
    if isinstance(target, LibvirtTarget):
        from rehost.storage.libvirt_target import LibvirtPublisher

        return LibvirtPublisher(target)
    from rehost.storage.glance_target import GlancePublisher

    return GlancePublisher(target)


@dataclass(frozen=True, slots=True)
class Launch:
    """A test machine started from an image."""

    publication: Publication
    info: LaunchInfo


def _publication(row: PublicationRow) -> Publication:
    return Publication(image_id=row.image_id, target=row.target, region_id=row.region_id,
                       status=PublishStatus(row.status), bytes_done=row.bytes_done,
                       bytes_total=row.bytes_total, remote=dict(row.remote),
                       error_code=row.error_code, error_message=row.error_message,
                       created_at=row.created_at, updated_at=row.updated_at)


def _disks(ctx: ServiceContext, account_id: AccountId, image_id: str,
           target: Target) -> tuple[PublishDisk, ...]:
    where = image_files.locate(ctx, account_id, image_id)
    files = [image_files.disk_file(ctx, account_id, image_id, d.index) for d in where.disks]
    want = target.disk_format if isinstance(target, GlanceTarget) else ""
    if want and any(f.format != want for f in files):
        if want == "raw":
            raise errors.InvalidStatus(
                "Publish.FormatUnsupported", f"Image {image_id} has qcow2 disks and the region's "
                "glance target uploads raw; set its disk_format to qcow2.",
                f"镜像 {image_id} 的磁盘为 qcow2，而该地域的 glance 目标上传 raw；请把 "
                "disk_format 设为 qcow2。")
        files = list(image_files.export(ctx, account_id, image_id, want))
    return tuple(PublishDisk(f.index, f.path, f.format, f.size_bytes) for f in files)


def _order(ctx: ServiceContext, account_id: AccountId, image_id: str, target: Target, *,
           vcpus: int | None, memory_mib: int | None,
           previous: Mapping[str, Any]) -> PublishOrder:
    with ctx.db.read() as session:
        row = lookup.image_row(session, account_id, image_id)
        source = session.get(SourceRow, row.source_id) if row.source_id else None
        inventory = dict(source.inventory) if source is not None else {}
        name, source_id, manifest = row.name, row.source_id or "", dict(row.manifest)
    return PublishOrder(
        image_id=image_id, name=name, source_id=source_id,
        boot_mode=str(manifest.get("boot_mode") or inventory.get("boot_mode") or "BIOS"),
        disks=_disks(ctx, account_id, image_id, target),
        size=machine_size(inventory, vcpus=vcpus, memory_mib=memory_mib),
        os_distro=os_distro(str(inventory.get("os_name", ""))), previous=previous)


def _begin(ctx: ServiceContext, account_id: AccountId, image_id: str,
           kind: str) -> tuple[str, Mapping[str, Any]]:
    """Mark the publication Publishing; (region, what an earlier attempt recorded)."""
    with ctx.db.transaction() as session:
        image = lookup.image_row(session, account_id, image_id)
        row = session.get(PublicationRow, (image_id, kind), with_for_update=True)
        now = ctx.now()
        if row is None:
            row = PublicationRow(image_id=image_id, target=kind, account_id=account_id,
                                 region_id=image.region_id, remote={}, created_at=now)
            session.add(row)
        elif row.status == PublishStatus.PUBLISHING and now - row.updated_at < STALE_AFTER:
            raise errors.InvalidStatus(
                "Publication.InProgress", f"Image {image_id} is being published to {kind} "
                f"({row.bytes_done} of {row.bytes_total} bytes); wait for it to finish.",
                f"镜像 {image_id} 正在发布到 {kind}（已完成 {row.bytes_done}/{row.bytes_total} "
                "字节）；请等待其完成。")
        row.status, row.bytes_done, row.updated_at = PublishStatus.PUBLISHING, 0, now
        row.error_code = row.error_message = ""
        return image.region_id, dict(row.remote or {})


def _record(ctx: ServiceContext, image_id: str, kind: str, **values: Any) -> Publication:
    with ctx.db.transaction() as session:
        row = session.get(PublicationRow, (image_id, kind))
        assert row is not None  # made by _begin; only revert deletes it
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = ctx.now()
        return _publication(row)


def publish_image(ctx: ServiceContext, account_id: AccountId, image_id: str, *, target: str,
                  start: bool = False, vcpus: int | None = None, memory_mib: int | None = None,
                  publishers: PublisherFactory = default_publisher) -> Publication:
    """Copy the image into the region's `target` (blocks; progress is on the publication)."""
    kind = check_kind(target)
    if start and kind != "libvirt":
        raise errors.invalid("Start", "start applies to the libvirt target only.",
                             "start 仅适用于 libvirt 发布目标。")
    with ctx.db.read() as session:
        region_id = lookup.image_row(session, account_id, image_id).region_id
    config = publish_targets.get_target(ctx, account_id, region_id, kind)
    publisher = publishers(config)
    _, previous = _begin(ctx, account_id, image_id, kind)
    try:
        order = _order(ctx, account_id, image_id, config, vcpus=vcpus, memory_mib=memory_mib,
                       previous=previous)
        _record(ctx, image_id, kind, bytes_total=bytes_total(order.disks))

        def progress(done: int, made: Mapping[str, Any]) -> None:
            _record(ctx, image_id, kind, bytes_done=done, remote=dict(made))

        remote = publisher.publish(order, start=start, progress=progress)
    except errors.RehostError as exc:
        _record(ctx, image_id, kind, status=PublishStatus.FAILED, error_code=exc.code,
                error_message=exc.message)
        raise
    except Exception as exc:
        _record(ctx, image_id, kind, status=PublishStatus.FAILED, error_code="Publish.Failed",
                error_message=str(exc))
        raise errors.RehostError("Publish.Failed", f"publishing to {kind} failed: {exc}; "
                                 "publish again to resume.", f"发布到 {kind} 失败：{exc}；"
                                 "请重新发布以继续。") from exc
    return _record(ctx, image_id, kind, status=PublishStatus.PUBLISHED, remote=remote,
                   bytes_done=bytes_total(order.disks))


def list_publications(ctx: ServiceContext, account_id: AccountId,
                      image_id: str) -> list[Publication]:
    """Where the image has been published (with progress while publishing)."""
    with ctx.db.read() as session:
        lookup.image_row(session, account_id, image_id)
        rows = session.scalars(select(PublicationRow).where(
            PublicationRow.image_id == image_id).order_by(PublicationRow.target)).all()
        return [_publication(r) for r in rows]


def launch_image(ctx: ServiceContext, account_id: AccountId, image_id: str, *,
                 vcpus: int | None = None, memory_mib: int | None = None,
                 wait_ip_s: float = 0.0,
                 publishers: PublisherFactory = default_publisher) -> Launch:
    """Publish to libvirt (reusing an earlier publication) and start the test machine."""
    done = publish_image(ctx, account_id, image_id, target="libvirt", start=True, vcpus=vcpus,
                         memory_mib=memory_mib, publishers=publishers)
    config = publish_targets.get_target(ctx, account_id, done.region_id, "libvirt")
    publisher = publishers(config)
    info_of = getattr(publisher, "launch_info", None)
    if info_of is None:
        raise errors.RehostError("Launch.Unsupported", "this libvirt publisher cannot report "
                                 "a test machine.", "该 libvirt 发布器无法报告测试机。")
    info: LaunchInfo = info_of(done.remote, wait_ip_s=wait_ip_s)
    return Launch(done, info)


def unpublish(ctx: ServiceContext, account_id: AccountId, image_id: str, target: str, *,
              publishers: PublisherFactory = default_publisher) -> Publication:
    """Remove the copy in `target` (domain and volumes, or Glance images) and its record."""
    kind = check_kind(target)
    with ctx.db.read() as session:
        lookup.image_row(session, account_id, image_id)
        row = session.get(PublicationRow, (image_id, kind))
        if row is None:
            raise errors.NotFound("Publication.NotFound", f"Image {image_id} is not published "
                                  f"to {kind}.", f"镜像 {image_id} 未发布到 {kind}。")
        gone = _publication(row)
    config = publish_targets.get_target(ctx, account_id, gone.region_id, kind)
    publishers(config).revert(gone.remote)
    with ctx.db.transaction() as session:
        found = session.get(PublicationRow, (image_id, kind))
        if found is not None:
            session.delete(found)
    return gone
