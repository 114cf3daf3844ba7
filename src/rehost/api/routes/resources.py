"""/api/v1 regions, images, activation codes and the caller's account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rehost.api.deps import Account, Ctx
from rehost.api.schemas import ActivationCodeIn, ImageVerifyIn, RegionIn
from rehost.api.schemas.resources import (
    AccountOut,
    CodeOut,
    CodePage,
    ImageDeleted,
    ImageDetail,
    ImagePage,
    NewCodeOut,
    RegionList,
    RegionOut,
    VerificationOut,
    code_out,
    image_out,
    location_out,
    region_out,
    verification_out,
)
from rehost.domain.ids import ActivationCodeId
from rehost.domain.models import DiskLimits
from rehost.services import activation, image_files, image_verify, images, regions

router = APIRouter()


@router.get("/account", tags=["account"])
def whoami(account: Account) -> AccountOut:
    """The authenticated account id (for `rehost configure`)."""
    return AccountOut(account_id=account)


@router.get("/regions", tags=["regions"])
def list_regions(ctx: Ctx, account: Account) -> RegionList:
    """Regions with slot use."""
    return RegionList(regions=[region_out(r) for r in regions.list_regions(ctx, account)])


@router.post("/regions", tags=["regions"], status_code=201)
def create_region(body: RegionIn, ctx: Ctx, account: Account) -> RegionOut:
    """Create a region."""
    limits = DiskLimits(body.system_disk_min, body.system_disk_max, body.data_disk_min,
                        body.data_disk_max)
    region = regions.create_region(
        ctx, account, region_id=body.region_id, name=body.name,
        image_store_path=body.image_store_path, network_quota=body.network_quota,
        reserved_slots=body.reserved_slots, limits=limits,
        verify_after_migration=body.verify_after_migration, image_format=body.image_format,
        accept_failed_checks=body.accept_failed_checks, adapt_guests=body.adapt_guests,
        adapt_engine=body.adapt_engine, keep_static_network=body.keep_static_network,
    )
    return region_out(region)


@router.get("/regions/{region_id}", tags=["regions"])
def describe_region(region_id: str, ctx: Ctx, account: Account) -> RegionOut:
    """One region."""
    return region_out(regions.get_region(ctx, account, region_id))


@router.get("/images", tags=["images"])
def list_images(
    ctx: Ctx, account: Account, region_id: str | None = None, name: str | None = None,
    image_id: Annotated[list[str] | None, Query()] = None,
    page_number: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> ImagePage:
    """Images with filters and paging."""
    page = images.describe_images(ctx, account, region_id=region_id, image_ids=image_id,
                                  name=name, page_number=page_number, page_size=page_size)
    return ImagePage(images=[image_out(i) for i in page.items], total_count=page.total_count,
                     page_number=page.page_number, page_size=page.page_size)


@router.get("/images/{image_id}", tags=["images"])
def describe_image(image_id: str, ctx: Ctx, account: Account) -> ImageDetail:
    """One image with its manifest and `location` (directory, disk files, download URLs)."""
    where = image_files.locate(ctx, account, image_id)
    image = image_out(images.get_image(ctx, account, image_id))
    return ImageDetail(**dict(image), location=location_out(where, image_id))


@router.delete("/images/{image_id}", tags=["images"])
def delete_image(image_id: str, ctx: Ctx, account: Account) -> ImageDeleted:
    """Delete an image and its files."""
    images.delete_image(ctx, account, image_id)
    return ImageDeleted(image_id=image_id, deleted=True)


@router.post("/images/{image_id}/verify", tags=["images"])
def verify_image(image_id: str, ctx: Ctx, account: Account,
                 body: ImageVerifyIn | None = None) -> VerificationOut:
    """Boot the image in QEMU (its source's boot mode); blocks until PASS or FAIL."""
    body = body or ImageVerifyIn()
    done = image_verify.verify_image(ctx, account, image_id, timeout_s=body.timeout,
                                     success_patterns=body.success_patterns)
    return verification_out(done)


@router.post("/activation-codes", tags=["activation-codes"], status_code=201)
def create_code(body: ActivationCodeIn, ctx: Ctx, account: Account) -> NewCodeOut:
    """Create an activation code; `code` is shown only in this response."""
    new = activation.create_code(ctx, account, count=body.count, ttl_days=body.ttl_days,
                                 name=body.name)
    return NewCodeOut(**dict(code_out(new.code)), code=new.secret)


@router.get("/activation-codes", tags=["activation-codes"])
def list_codes(
    ctx: Ctx, account: Account, page_number: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
) -> CodePage:
    """Activation codes with state and registered count."""
    page = activation.list_codes(ctx, account, page_number=page_number, page_size=page_size)
    return CodePage(activation_codes=[code_out(c) for c in page.items],
                    total_count=page.total_count, page_number=page.page_number,
                    page_size=page.page_size)


@router.post("/activation-codes/{code_id}/disable", tags=["activation-codes"])
def disable_code(code_id: str, ctx: Ctx, account: Account) -> CodeOut:
    """Disable an activation code."""
    return code_out(activation.disable_code(ctx, account, ActivationCodeId(code_id)))
