"""/api/v1/transit-hosts: codes/list/revoke/delete (AccessKey), register (code), host calls.

An account creates a one-use registration code for a region and a host name
(`POST /transit-host-codes`); a `rehost transit` process registers once with that code (no
AccessKey: an AccessKey alone never yields a certificate) and then authenticates every call
with `Authorization: Bearer <host token>`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from rehost.api.deps import Account, AgentToken, Ctx
from rehost.api.schemas import Model, Ok
from rehost.api.schemas.hosts import (
    BuildFinishedOut,
    HostBeatOut,
    HostCodeList,
    HostDeleted,
    HostList,
    HostOut,
    LookupOut,
    NewHostCodeOut,
    RegisteredOut,
    WorkOrdersOut,
    code_fields,
    code_out,
    host_fields,
    host_out,
)
from rehost.pki import issue_transit_cert, load_or_create_ca
from rehost.protocol import hostapi
from rehost.services import host_codes, host_work, transit_hosts
from rehost.services.transit_hosts import TransitHost
from rehost.transit.ports import DiskDigest, ReceivedDisk, ReceiverProgress

router = APIRouter(prefix="/transit-hosts", tags=["transit-hosts"])
codes_router = APIRouter(prefix="/transit-host-codes", tags=["transit-hosts"])
PKI_DIR = "pki"  # the server CA's directory under --data-dir (as rehost.embedded)


def host_auth(ctx: Ctx, token: AgentToken) -> TransitHost:
    """The transit host of the Bearer host token."""
    return transit_hosts.authenticate(ctx, token)


Host = Annotated[TransitHost, Depends(host_auth)]


class RegisterIn(Model):
    """POST /transit-hosts (authenticated by the registration code, not an AccessKey)."""

    registration_code: str = Field(min_length=1, max_length=256)
    region_id: str = Field("", max_length=64)
    name: str = Field(max_length=128)
    data_endpoint: str = Field(max_length=300)


class CodeIn(Model):
    """POST /transit-host-codes."""

    region_id: str = Field(max_length=64)
    host_name: str = Field(max_length=253)
    ttl_hours: int = Field(host_codes.TTL_HOURS_DEFAULT, ge=1, le=host_codes.TTL_HOURS_MAX)


class LookupIn(Model):
    """POST /transit-hosts/self/lookup."""

    data_token: str = Field(max_length=256)


class DiskProgressIn(Model):
    """One disk of a progress report."""

    index: int = Field(ge=0, le=16)
    done_bytes: int = Field(ge=0)
    total_bytes: int = Field(ge=0)


class ProgressIn(Model):
    """POST /transit-hosts/self/progress."""

    job_id: str = Field(max_length=64)
    disks: list[DiskProgressIn] = Field(max_length=17)
    rate_bytes_per_s: float = Field(ge=0)


class DigestIn(Model):
    """A whole-disk digest."""

    index: int = Field(ge=0, le=16)
    digest_hex: str = Field("", max_length=128)
    pass_bytes: int = Field(-1, ge=-1)  # a delta pass: bytes of the changed cells received


class SyncDoneIn(Model):
    """POST /transit-hosts/self/sync-done."""

    job_id: str = Field(max_length=64)
    digests: list[DigestIn] = Field(default_factory=list, max_length=17)


class FailureIn(Model):
    """POST /transit-hosts/self/sync-failed and …/build-failed."""

    job_id: str = Field("", max_length=64)
    code: str = Field(max_length=128)
    message: str = Field(max_length=4096)
    hint: str = Field("", max_length=4096)


class WorkIn(Model):
    """POST /transit-hosts/self/work: the transit work dirs and image ids the host holds."""

    transits: list[str] = Field(default_factory=list, max_length=10000)
    images: list[str] = Field(default_factory=list, max_length=100000)


class LogIn(Model):
    """POST /transit-hosts/self/jobs/{job_id}/log."""

    level: str = Field(pattern="^(info|warning|error)$")
    code: str = Field("", max_length=128)
    message_en: str = Field(max_length=4096)
    message_zh: str = Field(max_length=4096)
    hint: str = Field("", max_length=4096)


class BuildFinishedIn(Model):
    """POST /transit-hosts/self/jobs/{job_id}/build-finished."""

    image_id: str = Field(max_length=64)
    manifest: dict[str, Any]
    verify_result: str = Field("", max_length=65536)


@codes_router.post("", status_code=201)
def create_code(body: CodeIn, ctx: Ctx, account: Account) -> NewHostCodeOut:
    """A one-use code to register a transit host of `host_name` in a region (shown once)."""
    new = host_codes.create_code(ctx, account, region_id=body.region_id,
                                 host_name=body.host_name, ttl_hours=body.ttl_hours)
    return NewHostCodeOut.model_validate({**code_fields(new.code),
                                          "registration_code": new.secret})


@codes_router.get("")
def list_codes(ctx: Ctx, account: Account) -> HostCodeList:
    """The account's registration codes (used ones name their host)."""
    return HostCodeList(codes=[code_out(c) for c in host_codes.list_codes(ctx, account)])


@router.post("", status_code=201)
def register(body: RegisterIn, ctx: Ctx) -> RegisteredOut:
    """Redeem a registration code; returns token, certificate + key (its name only) and CA."""
    reg = transit_hosts.register_host(ctx, code=body.registration_code, name=body.name,
                                      data_endpoint=body.data_endpoint,
                                      region_id=body.region_id)
    now = ctx.now()
    ca = load_or_create_ca(ctx.settings.data_dir / PKI_DIR, now=now)
    cert = issue_transit_cert(ca, [transit_hosts.certificate_name(reg.host)], now=now)
    return RegisteredOut.model_validate({
        **host_fields(reg.host), "host_token": reg.token,
        "cert_pem": cert.cert_pem.decode("ascii"), "key_pem": cert.key_pem.decode("ascii"),
        "ca_pem": ca.cert_pem.decode("ascii"),
        "heartbeat_interval_s": ctx.settings.heartbeat_interval_s})


@router.get("")
def list_hosts(ctx: Ctx, account: Account, region_id: str | None = None) -> HostList:
    """The account's transit hosts with state (Online/Offline) and active transits."""
    return HostList(transit_hosts=[host_out(h) for h in
                                   transit_hosts.list_hosts(ctx, account, region_id)])


@router.post("/{host_id}/revoke")
def revoke_host(host_id: str, ctx: Ctx, account: Account) -> HostOut:
    """Refuse the host's token at once (its transits are recovered as an offline host's)."""
    return host_out(transit_hosts.revoke_host(ctx, account, host_id))


@router.delete("/{host_id}")
def delete_host(host_id: str, ctx: Ctx, account: Account) -> HostDeleted:
    """Forget a transit host (refused while it holds transits)."""
    transit_hosts.delete_host(ctx, account, host_id)
    return HostDeleted(host_id=host_id, deleted=True)


@router.post("/self/heartbeat")
def heartbeat(ctx: Ctx, token: AgentToken) -> HostBeatOut:
    """Keep the host online."""
    host = transit_hosts.heartbeat(ctx, token)
    return HostBeatOut.model_validate({**host_fields(host),
                                       "heartbeat_interval_s": ctx.settings.heartbeat_interval_s})


@router.post("/self/lookup")
def lookup(body: LookupIn, ctx: Ctx, host: Host) -> LookupOut:
    """The job of a data token if its transit is on this host and it may send now."""
    found = host_work.lookup(ctx, host, body.data_token)
    if found is None:
        return LookupOut.model_validate(hostapi.lookup_json(None))
    spec, transit_id = found
    disks = tuple(hostapi.HostDisk(d.index, d.size_bytes, d.target_size_bytes) for d in spec.disks)
    job = hostapi.HostJob(spec.job_id, transit_id, spec.checksum, disks)
    return LookupOut.model_validate(hostapi.lookup_json(job))


@router.post("/self/progress")
def progress(body: ProgressIn, ctx: Ctx, host: Host) -> Ok:
    """Durable progress of a job."""
    disks = tuple(ReceivedDisk(d.index, d.done_bytes, d.total_bytes) for d in body.disks)
    progress = ReceiverProgress(body.job_id, disks, body.rate_bytes_per_s)
    host_work.report_progress(ctx, host, progress)
    return Ok(ok=True)


@router.post("/self/sync-done")
def sync_done(body: SyncDoneIn, ctx: Ctx, host: Host) -> Ok:
    """Every disk of a job is durable (and verified)."""
    digests = tuple(DiskDigest(d.index, d.digest_hex, d.pass_bytes) for d in body.digests)
    host_work.sync_done(ctx, host, body.job_id, digests)
    return Ok(ok=True)


@router.post("/self/sync-failed")
def sync_failed(body: FailureIn, ctx: Ctx, host: Host) -> Ok:
    """The transit cannot continue a job."""
    host_work.sync_failed(ctx, host, body.job_id, body.code, body.message)
    return Ok(ok=True)


@router.post("/self/work")
def work(body: WorkIn, ctx: Ctx, host: Host) -> WorkOrdersOut:
    """Jobs to disconnect, transits to release, images to build and images to delete."""
    todo = host_work.work(ctx, host, body.transits, body.images)
    orders = hostapi.WorkOrders(
        disconnect=todo.disconnect,
        release=tuple(hostapi.Release(t, j) for t, j in todo.release),
        build=tuple(hostapi.BuildOrder(
            transit_id=b.transit_id, job_id=b.plan.job_id, source_id=b.plan.source_id,
            image_id=b.plan.image_id, image_name=b.plan.image_name, disks=b.plan.disks,
            boot_mode=b.plan.boot_mode, disk_format=b.plan.disk_format, verify=b.plan.verify,
            accept_failed_checks=b.plan.accept_failed_checks,
            adapt_guests=b.plan.adapt_guests, adapt_engine=b.plan.adapt_engine,
            keep_static_network=b.plan.keep_static_network, digests=b.plan.digests)
            for b in todo.build),
        delete_images=todo.delete_images,
    )
    return WorkOrdersOut.model_validate(orders.to_json())


@router.post("/self/jobs/{job_id}/log")
def log_line(job_id: str, body: LogIn, ctx: Ctx, host: Host) -> Ok:
    """One line of the job's log."""
    host_work.log_line(ctx, host, job_id, level=body.level, code=body.code,
                       message_en=body.message_en, message_zh=body.message_zh, hint=body.hint)
    return Ok(ok=True)


@router.post("/self/jobs/{job_id}/build-finished")
def build_finished(job_id: str, body: BuildFinishedIn, ctx: Ctx, host: Host) -> BuildFinishedOut:
    """The host published the image: register it and finish the job."""
    image_id = host_work.finish_build(ctx, host, job_id, manifest=body.manifest,
                                      image_id=body.image_id, verify_result=body.verify_result)
    return BuildFinishedOut(job_id=job_id, image_id=image_id)


@router.post("/self/jobs/{job_id}/build-failed")
def build_failed(job_id: str, body: FailureIn, ctx: Ctx, host: Host) -> Ok:
    """The host's image build failed: the job goes InError."""
    host_work.fail_build(ctx, host, job_id, code=body.code, message=body.message,
                         hint=body.hint)
    return Ok(ok=True)
