"""/api/v1: region publish targets, image publish (libvirt, Glance), test launch and revert."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from rehost.api.deps import Account, Ctx
from rehost.domain.publish import Publication, Target, target_doc
from rehost.services import publish, publish_targets

router = APIRouter()


class PublishIn(BaseModel):
    """POST /images/{id}/publish."""

    model_config = ConfigDict(extra="forbid")
    target: str = Field(description="libvirt or glance (the image region's target)")
    start: bool = Field(False, description="libvirt only: start the defined domain")
    vcpus: int | None = Field(None, description="default: the source's inventory, else 1")
    memory_mib: int | None = Field(None, description="default: the source's inventory, else 1024")


class LaunchIn(BaseModel):
    """POST /images/{id}/launch."""

    model_config = ConfigDict(extra="forbid")
    vcpus: int | None = None
    memory_mib: int | None = None
    wait_ip_s: float = Field(0.0, ge=0, le=600,
                             description="seconds to wait for a DHCP lease (needs a network)")


class PublicationOut(BaseModel):
    """An image's copy in one target: status, progress, what exists there."""

    image_id: str
    target: str
    region_id: str
    status: str
    bytes_done: int
    bytes_total: int
    progress_percent: float
    remote: dict[str, object]  # what exists in the target (the publisher's document)
    error_code: str
    error_message: str
    creation_time: datetime
    update_time: datetime


class PublicationsOut(BaseModel):
    """GET /images/{id}/publications."""

    publications: list[PublicationOut]


class LaunchOut(BaseModel):
    """A running test machine."""

    publication: PublicationOut
    domain: str
    state: str
    console_log: str
    console_pty: str
    addresses: list[str]


class TargetOut(BaseModel):
    """A region's publish target."""

    region_id: str
    target: str
    settings: dict[str, str]


class TargetsOut(BaseModel):
    """GET /regions/{id}/publish-targets."""

    targets: list[TargetOut]


def publication_out(p: Publication) -> PublicationOut:
    """A publication as JSON."""
    percent = round(100.0 * p.bytes_done / p.bytes_total, 1) if p.bytes_total else 0.0
    return PublicationOut(image_id=p.image_id, target=p.target, region_id=p.region_id,
                          status=p.status.value, bytes_done=p.bytes_done,
                          bytes_total=p.bytes_total, progress_percent=percent,
                          remote=dict(p.remote), error_code=p.error_code,
                          error_message=p.error_message, creation_time=p.created_at,
                          update_time=p.updated_at)


def _target_out(region_id: str, kind: str, target: Target) -> TargetOut:
    return TargetOut(region_id=region_id, target=kind, settings=target_doc(target))


@router.put("/regions/{region_id}/publish-targets/{kind}", tags=["regions"],
            response_model=TargetOut)
def set_target(region_id: str, kind: str, ctx: Ctx, account: Account,
               settings: Annotated[dict[str, object], Body()]) -> TargetOut:
    """Set (replace) the region's libvirt or glance target; unknown keys are refused."""
    target = publish_targets.set_target(ctx, account, region_id, kind, settings)
    return _target_out(region_id, kind, target)


@router.get("/regions/{region_id}/publish-targets", tags=["regions"], response_model=TargetsOut)
def list_targets(region_id: str, ctx: Ctx, account: Account) -> TargetsOut:
    """The region's publish targets."""
    found = publish_targets.list_targets(ctx, account, region_id)
    return TargetsOut(targets=[_target_out(region_id, k, t) for k, t in sorted(found.items())])


@router.delete("/regions/{region_id}/publish-targets/{kind}", tags=["regions"],
               response_model=TargetsOut)
def delete_target(region_id: str, kind: str, ctx: Ctx, account: Account) -> TargetsOut:
    """Remove a target (copies already published stay); answers the remaining ones."""
    publish_targets.delete_target(ctx, account, region_id, kind)
    return list_targets(region_id, ctx, account)


@router.post("/images/{image_id}/publish", tags=["images"], response_model=PublicationOut)
def publish_image(image_id: str, body: PublishIn, ctx: Ctx, account: Account) -> PublicationOut:
    """Copy the image into its region's target (blocks; GET …/publications shows progress)."""
    done = publish.publish_image(ctx, account, image_id, target=body.target, start=body.start,
                                 vcpus=body.vcpus, memory_mib=body.memory_mib)
    return publication_out(done)


@router.get("/images/{image_id}/publications", tags=["images"], response_model=PublicationsOut)
def list_publications(image_id: str, ctx: Ctx, account: Account) -> PublicationsOut:
    """Where the image is published, with progress while publishing."""
    found = publish.list_publications(ctx, account, image_id)
    return PublicationsOut(publications=[publication_out(p) for p in found])


@router.delete("/images/{image_id}/publications/{target}", tags=["images"],
               response_model=PublicationOut)
def unpublish(image_id: str, target: str, ctx: Ctx, account: Account) -> PublicationOut:
    """Remove the copy in `target` (libvirt domain and volumes, or Glance images)."""
    return publication_out(publish.unpublish(ctx, account, image_id, target))


@router.post("/images/{image_id}/launch", tags=["images"], response_model=LaunchOut)
def launch(image_id: str, ctx: Ctx, account: Account,
           body: LaunchIn | None = None) -> LaunchOut:
    """Boot a test machine on the region's libvirt target; answers its console and addresses."""
    body = body or LaunchIn()
    done = publish.launch_image(ctx, account, image_id, vcpus=body.vcpus,
                                memory_mib=body.memory_mib, wait_ip_s=body.wait_ip_s)
    info = done.info
    return LaunchOut(publication=publication_out(done.publication), domain=info.domain,
                     state=info.state, console_log=info.console_log,
                     console_pty=info.console_pty, addresses=list(info.addresses))


@router.post("/images/{image_id}/launch/revert", tags=["images"], response_model=PublicationOut)
def revert_launch(image_id: str, ctx: Ctx, account: Account) -> PublicationOut:
    """Remove the test machine: destroy and undefine the domain, delete its volumes."""
    return publication_out(publish.unpublish(ctx, account, image_id, "libvirt"))
