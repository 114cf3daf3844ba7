"""Custom images: describe and delete (files removed through the region's ImageStore)."""

from __future__ import annotations

from sqlalchemy import select, update

from rehost.db import convert
from rehost.db.tables import ImageRow, JobRow, TransitSlotRow
from rehost.domain.ids import AccountId, ImageId
from rehost.domain.models import Image, Page
from rehost.domain.paging import check_page
from rehost.services import lookup
from rehost.services.context import ServiceContext


def describe_images(
    ctx: ServiceContext,
    account_id: AccountId,
    *,
    region_id: str | None = None,
    image_ids: list[str] | None = None,
    name: str | None = None,
    page_number: int = 1,
    page_size: int = 10,
) -> Page[Image]:
    """The account's images, newest first."""
    check_page(page_number, page_size)
    query = select(ImageRow).where(ImageRow.account_id == account_id)
    if region_id:
        query = query.where(ImageRow.region_id == region_id)
    if image_ids:
        query = query.where(ImageRow.id.in_(image_ids))
    if name:
        query = query.where(ImageRow.name.contains(name, autoescape=True))
    query = query.order_by(ImageRow.created_at.desc(), ImageRow.id)
    with ctx.db.read() as session:
        rows, total = lookup.page_rows(session, query, page_number=page_number,
                                       page_size=page_size)
        return Page(tuple(convert.image(r) for r in rows), total, page_number, page_size)


def get_image(ctx: ServiceContext, account_id: AccountId, image_id: str) -> Image:
    """One image of the account."""
    with ctx.db.read() as session:
        return convert.image(lookup.image_row(session, account_id, image_id))


def delete_image(ctx: ServiceContext, account_id: AccountId, image_id: str) -> None:
    """Remove the image files, then its catalogue entry (jobs keep a dangling-free link).

    An image built on a transit host is deleted there at the host's next work poll.
    """
    with ctx.db.read() as session:
        row = lookup.image_row(session, account_id, image_id)
        region = convert.region(lookup.region_row(session, account_id, row.region_id))
        on_host = session.scalars(select(TransitSlotRow.id).where(
            TransitSlotRow.image_id == image_id, TransitSlotRow.host_id.is_not(None))).first()
    if on_host is None:
        ctx.image_store_for(region).delete(ImageId(image_id))
    with ctx.db.transaction() as session:
        session.execute(update(JobRow).where(JobRow.image_id == image_id).values(image_id=None))
        row = lookup.image_row(session, account_id, image_id)
        session.delete(row)
