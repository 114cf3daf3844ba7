"""Incremental jobs between cycles: Waiting, the next cycle's due time, image retention."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from rehost.db.tables import ImageRow, JobRow
from rehost.domain import incremental
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId, JobId
from rehost.domain.models import EventLevel
from rehost.domain.states import JobStatus
from rehost.services import events, images
from rehost.services.context import ServiceContext

log = logging.getLogger(__name__)


def image_name(row: JobRow) -> str:
    """The name of the image a job registers now (one-shot: image_name; else per cycle)."""
    if row.run_once:
        return row.image_name
    return incremental.cycle_image_name(row.image_name, max(row.cycle or 0, 1))


def images_beyond_keep(session: Session, row: JobRow) -> list[str]:
    """Ids of the job's images beyond max_images_to_keep, oldest first."""
    ids = session.scalars(select(ImageRow.id).where(ImageRow.job_id == row.id).order_by(
        ImageRow.created_at, ImageRow.id)).all()
    return incremental.images_to_delete(list(ids), max(row.max_images_to_keep, 1))


def prune_images(ctx: ServiceContext, account_id: AccountId, job_id: JobId,
                 image_ids: list[str]) -> None:
    """Delete old cycle images (files through the image store port, then the catalogue)."""
    for image_id in image_ids:
        try:
            images.delete_image(ctx, account_id, image_id)
        except (RehostError, OSError) as exc:
            log.warning("could not delete old image %s: %s", image_id, exc)
            continue
        with ctx.db.transaction() as session:
            events.add(session, job_id=job_id, account_id=account_id, now=ctx.now(),
                       level=EventLevel.INFO, code="Image.Deleted",
                       message_en=f"Old image {image_id} deleted (images to keep reached).",
                       message_zh=f"已删除旧镜像 {image_id}（超过保留数量）。")


def due_cycles(ctx: ServiceContext) -> list[tuple[AccountId, JobId]]:
    """Waiting incremental jobs whose next cycle is due."""
    with ctx.db.read() as session:
        rows = session.execute(select(JobRow.account_id, JobRow.id).where(
            JobRow.status == JobStatus.WAITING.value, JobRow.next_cycle_at.is_not(None),
            JobRow.next_cycle_at <= ctx.now(),
        )).all()
    return [(AccountId(a), JobId(j)) for a, j in rows]
