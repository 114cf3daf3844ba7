"""Images (per region) and Regions (slot use against quota)."""

from __future__ import annotations

from itertools import groupby

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.console.views import CHECK_TONES, image_view, region_view
from rehost.console.web import ConsoleDeps
from rehost.domain.ids import AccountId
from rehost.services import image_verify, images, regions

IMAGE_PAGE_SIZE = 50


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the images and regions pages."""

    @router.get("/images", include_in_schema=False)
    def image_list(request: Request, region: str = "", page: int = 1) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        t, ctx, account_id = deps.t(request), deps.context(request), AccountId(session.account_id)
        region_list = regions.list_regions(ctx, account_id)
        result = images.describe_images(ctx, account_id, region_id=region or None,
                                        page_number=min(max(page, 1), 1_000_000),
                                        page_size=IMAGE_PAGE_SIZE)
        views = sorted((image_view(i, t, verifying=image_verify.is_verifying(ctx, account_id, i.id))
                        for i in result.items), key=lambda v: v.region_id)
        groups = [(rid, list(items)) for rid, items in groupby(views, key=lambda v: v.region_id)]
        return deps.renderer.page(request, "images.html", session=session, section="/images",
                                  groups=groups, regions=region_list, region_filter=region,
                                  page=result, query={"region": region},
                                  check_tones=CHECK_TONES)

    @router.get("/regions", include_in_schema=False)
    def region_list_page(request: Request) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        rows = [region_view(r) for r in
                regions.list_regions(deps.context(request), AccountId(session.account_id))]
        return deps.renderer.page(request, "regions.html", session=session, section="/regions",
                                  rows=rows)
