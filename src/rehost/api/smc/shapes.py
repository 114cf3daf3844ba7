"""Domain values shaped as SMC 2019-06-01 response documents (field names of the official SDK)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rehost.domain.models import (
    GIB,
    ActivationCode,
    ExecutionMode,
    Job,
    Page,
    Source,
    SourceDisk,
)
from rehost.jsonvalue import JsonObject

HEARTBEAT_RATE_S = 30
_TOKEN_STATUS = {"unactivated": "Unactivated", "activated": "Activated",
                 "expired": "Expired", "disabled": "Disabled"}


def smc_time(value: datetime | None) -> str:
    """ISO 8601 UTC `yyyy-MM-ddTHH:mm:ssZ`, or '' for no time."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gib_ceil(size_bytes: int) -> int:
    """Bytes rounded up to whole GiB."""
    return math.ceil(size_bytes / GIB)


def page_fields(page: Page[Any]) -> dict[str, int]:
    """TotalCount / PageNumber / PageSize of a listing."""
    return {"TotalCount": page.total_count, "PageNumber": page.page_number,
            "PageSize": page.page_size}


def job_document(job: Job) -> JsonObject:
    """One `ReplicationJob` of DescribeReplicationJobs."""
    spec = job.spec
    return {
        "JobId": job.id, "Name": spec.name, "Description": spec.description,
        "SourceId": job.source_id, "RegionId": job.region_id,
        "Status": str(job.status), "BusinessStatus": str(job.business_status),
        "Progress": job.progress.percent,
        "ErrorCode": job.error_code, "StatusInfo": job.error_message,
        "CreationTime": smc_time(job.created_at), "StartTime": smc_time(job.started_at),
        "EndTime": smc_time(job.finished_at),
        "ScheduledStartTime": smc_time(spec.scheduled_start_time),
        "ValidTime": smc_time(spec.valid_time),
        "SystemDiskSize": spec.system_disk_size_gib,
        "DataDisks": {"DataDisk": [
            {"Index": d.index, "Size": d.size_gib, "Parts": {"Part": []}} for d in spec.data_disks
        ]},
        "SystemDiskParts": {"SystemDiskPart": []},
        "ImageName": spec.image_name, "ImageId": job.image_id or "",
        "TransitionInstanceId": job.transit_id or "",
        "ReplicationParameters": replication_parameters(job),
        "ReplicationJobRuns": {"ReplicationJobRun": _runs(job)},
        "NetMode": 0, "RunOnce": spec.run_once, "Frequency": spec.frequency_hours,
        "MaxNumberOfImageToKeep": spec.max_images_to_keep,
        "JobType": 0, "TargetType": "Image", "InstanceType": "", "InstanceId": "",
        "VSwitchId": "", "VpcId": "", "Tags": {"Tag": []},
    }


def replication_parameters(job: Job) -> str:
    """SMC's JSON string of driver parameters (bandwidth_limit, compress_level, checksum)."""
    spec = job.spec
    return json.dumps({"bandwidth_limit": spec.bandwidth_limit_kbps,
                       "compress_level": spec.compress_level,
                       "checksum": spec.checksum}, separators=(",", ":"))


def _runs(job: Job) -> list[dict[str, str]]:
    if not job.image_id:
        return []
    return [{"ImageId": job.image_id, "StartTime": smc_time(job.started_at),
             "EndTime": smc_time(job.finished_at), "Type": _run_type(job)}]


def _run_type(job: Job) -> str:
    """SMC's run type: Schedule (a scheduled start or a later incremental cycle) or Manual."""
    if job.spec.mode is ExecutionMode.SCHEDULED or (not job.spec.run_once and job.cycle > 1):
        return "Schedule"
    return "Manual"


def source_document(source: Source, *, last_job_id: str = "",
                    heartbeat_rate_s: int = HEARTBEAT_RATE_S) -> JsonObject:
    """One `SourceServer` of DescribeSourceServers."""
    system = source.system_disk
    return {
        "SourceId": source.id, "Name": source.name, "Description": source.description,
        "State": str(source.state), "ErrorCode": source.error_code,
        "StatusInfo": _status_info(source), "AgentVersion": source.agent_version,
        "Architecture": source.arch, "Platform": f"{source.os_name} {source.os_version}".strip(),
        "KernelLevel": 64 if source.arch in ("x86_64", "aarch64", "amd64", "arm64") else 32,
        "CreationTime": smc_time(source.created_at), "HeartbeatRate": heartbeat_rate_s,
        "JobId": last_job_id, "ReplicationDriver": "SMT",  # SMC's name for its agent
        "SystemDiskSize": gib_ceil(system.size_bytes) if system else 0,
        "SystemDiskParts": {"SystemDiskPart": _parts(source, 0)},
        "DataDisks": {"DataDisk": [_data_disk(source, d) for d in source.disks if d.index > 0]},
        "SystemInfo": system_info(source),
        "Tags": {"Tag": []},
    }


def _status_info(source: Source) -> str:
    if not source.error_code and not source.status_info:
        return ""
    return json.dumps({"error_code": source.error_code, "error_msg": source.status_info},
                      ensure_ascii=False, separators=(",", ":"))


def _data_disk(source: Source, disk: SourceDisk) -> JsonObject:
    return {"Index": disk.index, "Size": gib_ceil(disk.size_bytes), "Path": disk.path,
            "Parts": {"Part": _parts(source, disk.index)}}


def _parts(source: Source, index: int) -> list[JsonObject]:
    disks = source.inventory.get("disks", []) if isinstance(source.inventory, dict) else []
    disk = next((d for d in disks if isinstance(d, dict) and d.get("index") == index), None)
    if disk is None:
        return []
    parts = [p for p in disk.get("partitions", []) if isinstance(p, dict)]
    # SMC's device ids: <disk index>_<partition position>; rehost copies every partition at
    # block level (CanBlock), and swap needs no copy (its header is rebuilt)
    return [
        {"Path": p.get("mountpoint", ""), "Device": f"{index}_{position}",
         "SizeBytes": p.get("size_bytes", 0), "Need": p.get("fs") != "swap", "CanBlock": True}
        for position, p in enumerate(parts)
    ]


def system_info(source: Source) -> str:
    """SystemInfo: the host, its cores, memory, addresses and usage, as the agent reported."""
    inventory: dict[str, Any] = source.inventory if isinstance(source.inventory, dict) else {}
    found = inventory.get("system")
    system: Mapping[str, object] = found if isinstance(found, dict) else {}
    disks = [d for d in inventory.get("disks", []) if isinstance(d, dict)]
    info = {
        "hostname": source.hostname, "boot_mode": source.boot_mode, "kernel": source.kernel,
        "cpu_cores": system.get("cpu_cores", 0), "memory_bytes": system.get("memory_bytes", 0),
        "memory_available_bytes": system.get("memory_available_bytes", 0),
        "load_average": system.get("load_average", []),
        "ip_addresses": system.get("ip_addresses", []),
        "disk_size_bytes": sum(int(d.get("size_bytes", 0)) for d in disks),
        "disk_used_bytes": sum(int(d.get("used_bytes", 0)) for d in disks),
    }
    return json.dumps(info, separators=(",", ":"))


def token_document(code: ActivationCode) -> JsonObject:
    """One `AccessToken` of ListAccessTokens."""
    ttl_days = max(1, round((code.expires_at - code.created_at).total_seconds() / 86400))
    return {
        "AccessTokenId": code.id, "Name": code.name, "Description": "",
        "Count": str(code.count), "RegisteredCount": str(code.registered_count),
        "TimeToLiveInDays": str(ttl_days), "CreationTime": smc_time(code.created_at),
        "Status": _TOKEN_STATUS.get(str(code.state), str(code.state)),
    }
