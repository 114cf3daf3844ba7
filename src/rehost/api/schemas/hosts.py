"""Response models of the agent and transit-host routes, mirroring `rehost.protocol`'s types."""

from __future__ import annotations

from typing import Literal

from rehost.api.schemas.base import Out, plain_iso
from rehost.services.host_codes import HostCode
from rehost.services.transit_hosts import TransitHost


class ImportOut(Out):
    """POST /agent/import: the source, its agent token and the server CA (shown once)."""

    source_id: str
    agent_token: str
    server_ca_pem: str
    heartbeat_interval_s: float


class AgentBeatOut(Out):
    """POST /agent/heartbeat."""

    source_id: str
    state: str
    heartbeat_interval_s: float


class DiskTaskOut(Out):
    """`rehost.protocol.work.DiskTask`."""

    index: int
    size_bytes: int
    target_size_bytes: int
    path: str


class WorkItemOut(Out):
    """`rehost.protocol.work.WorkItem`: GET /agent/work."""

    action: Literal["none", "replicate", "pause", "stop"]
    job_id: str | None
    transit_endpoint: str
    data_token: str
    disks: list[DiskTaskOut]
    compress_level: int
    bandwidth_limit_kbps: int
    checksum: bool
    cycle: int


class ErrorReported(Out):
    """POST /agent/error."""

    job_id: str
    status: str
    error_code: str


class HostOut(Out):
    """A transit host (Online/Offline) and its active transits."""

    host_id: str
    account_id: str
    region_id: str
    name: str
    data_endpoint: str
    state: str
    created_at: str | None
    last_seen_at: str | None
    active_transits: int


def host_fields(host: TransitHost) -> dict[str, object]:
    """HostOut's fields of a host (shared by the models that extend it)."""
    return {"host_id": host.id, "account_id": host.account_id, "region_id": host.region_id,
            "name": host.name, "data_endpoint": host.data_endpoint, "state": host.state,
            "created_at": plain_iso(host.created_at),
            "last_seen_at": plain_iso(host.last_seen_at),
            "active_transits": host.active_transits}


def host_out(host: TransitHost) -> HostOut:
    """A transit host as JSON."""
    return HostOut.model_validate(host_fields(host))


class HostList(Out):
    """GET /transit-hosts."""

    transit_hosts: list[HostOut]


class HostBeatOut(HostOut):
    """POST /transit-hosts/self/heartbeat."""

    heartbeat_interval_s: float


class RegisteredOut(HostOut):
    """`rehost.protocol.hostapi.Registration`: the host token, certificate, key and CA (once)."""

    host_token: str
    cert_pem: str
    key_pem: str
    ca_pem: str
    heartbeat_interval_s: float


class HostDeleted(Out):
    """DELETE /transit-hosts/{id}."""

    host_id: str
    deleted: bool


class HostCodeOut(Out):
    """A registration code without its secret (a used one names its host)."""

    code_id: str
    region_id: str
    host_name: str
    created_at: str | None
    expires_at: str | None
    used_at: str | None
    host_id: str | None


def code_fields(code: HostCode) -> dict[str, object]:
    """HostCodeOut's fields of a code."""
    return {"code_id": code.id, "region_id": code.region_id, "host_name": code.host_name,
            "created_at": plain_iso(code.created_at), "expires_at": plain_iso(code.expires_at),
            "used_at": plain_iso(code.used_at), "host_id": code.host_id}


def code_out(code: HostCode) -> HostCodeOut:
    """A registration code as JSON."""
    return HostCodeOut.model_validate(code_fields(code))


class NewHostCodeOut(HostCodeOut):
    """POST /transit-host-codes: the code and its secret (shown once)."""

    registration_code: str


class HostCodeList(Out):
    """GET /transit-host-codes."""

    codes: list[HostCodeOut]


class HostDiskOut(Out):
    """`rehost.protocol.hostapi.HostDisk`."""

    index: int
    size_bytes: int
    target_size_bytes: int


class HostJobOut(Out):
    """`rehost.protocol.hostapi.HostJob`."""

    job_id: str
    transit_id: str
    checksum: bool
    disks: list[HostDiskOut]


class LookupOut(Out):
    """POST /transit-hosts/self/lookup (`job` null: not this host's token, or not now)."""

    job: HostJobOut | None


class ReleaseOut(Out):
    """`rehost.protocol.hostapi.Release`."""

    transit_id: str
    job_id: str


class BuildOrderOut(Out):
    """`rehost.protocol.hostapi.BuildOrder` (`disks`: [index, size, target size] bytes)."""

    transit_id: str
    job_id: str
    source_id: str
    image_id: str
    image_name: str
    work_dir: str
    disks: list[tuple[int, int, int]]
    boot_mode: str
    disk_format: str
    verify: bool
    digests: list[tuple[int, str]]
    accept_failed_checks: bool
    adapt_guests: bool
    adapt_engine: str = "rehost"
    keep_static_network: bool = False


class WorkOrdersOut(Out):
    """`rehost.protocol.hostapi.WorkOrders`: POST /transit-hosts/self/work."""

    disconnect: list[str]
    release: list[ReleaseOut]
    build: list[BuildOrderOut]
    delete_images: list[str]


class BuildFinishedOut(Out):
    """POST /transit-hosts/self/jobs/{id}/build-finished."""

    job_id: str
    image_id: str
