"""SMC's CreateReplicationJob / ModifyReplicationJobAttribute parameters → rehost JobRequest."""

from __future__ import annotations

import json

from rehost.api.smc import errors
from rehost.api.smc.params import Params
from rehost.domain.models import DataDiskSpec, ExecutionMode
from rehost.domain.rules import JobRequest

SUPPORTED_TARGET_TYPES = ("", "image")  # compared case-insensitively, as SMC does
UNSUPPORTED_TARGET_TYPES = ("containerimage", "targetinstance")
SMC_NET_MODES = (0, 2)  # 0 public network, 2 VPC (VSwitchId): rehost has no VPC to join


def job_request(params: Params) -> JobRequest:
    """Translate and pre-check SMC job fields; business rules stay in the services."""
    _check_unsupported(params)
    options = _replication_parameters(params.text("ReplicationParameters"))
    scheduled = params.timestamp("ScheduledStartTime")
    return JobRequest(
        name=params.optional_text("Name"),
        description=params.optional_text("Description"),
        system_disk_size_gib=_system_disk_size(params),
        data_disks=_data_disks(params),
        image_name=params.optional_text("ImageName"),
        mode=ExecutionMode.SCHEDULED if scheduled else None,
        scheduled_start_time=scheduled,
        valid_time=params.timestamp("ValidTime"),
        bandwidth_limit_kbps=_int_option(options, "bandwidth_limit"),
        compress_level=_int_option(options, "compress_level"),
        checksum=_bool_option(options, "checksum"),
        run_once=params.boolean("RunOnce"),
        frequency_hours=params.integer("Frequency", low=1, high=168),
        max_images_to_keep=params.integer("MaxNumberOfImageToKeep", low=1, high=10),
    )


def _check_unsupported(params: Params) -> None:
    target = params.text("TargetType").lower()
    if target in UNSUPPORTED_TARGET_TYPES:
        raise errors.SmcError(
            "Unsupported.TargetType",
            f"TargetType {params.text('TargetType')} is not supported: rehost builds a custom "
            "image (TargetType=Image). 不支持目标类型 "
            f"{params.text('TargetType')}：rehost 只生成自定义镜像（TargetType=Image）。")
    if target not in SUPPORTED_TARGET_TYPES:
        raise errors.invalid_parameter(
            "TargetType", f"{params.text('TargetType')!r} is not Image, ContainerImage or "
            "TargetInstance")
    if params.integer("JobType") not in (None, 0):
        raise errors.invalid_parameter("JobType", "only 0 (server migration) is supported")
    _check_net_mode(params)


def _check_net_mode(params: Params) -> None:
    net_mode = params.integer("NetMode")
    if net_mode is not None and net_mode not in SMC_NET_MODES:
        raise errors.invalid_parameter("NetMode", f"{net_mode} is not 0 or 2")
    network = [n for n in ("VSwitchId", "VpcId") if params.text(n)]
    if net_mode == 2 or network:
        # a VPC transfer cannot be honoured: refusing it beats sending over another network
        named = ", ".join(["NetMode=2"] * (net_mode == 2) + network)
        raise errors.SmcError(
            "Unsupported.NetMode",
            f"{named} is not supported: rehost has no VPC or VSwitch; its transit receives over "
            "TLS on its data port (NetMode=0). Remove it. "
            f"不支持 {named}：rehost 没有 VPC 或交换机；中转实例通过其数据端口的 TLS 接收数据"
            "（NetMode=0）。请去掉该参数。")


def _system_disk_size(params: Params) -> int | None:
    size = params.integer("SystemDiskSize")
    return size if size is not None else params.integer("Disks.System.Size")


def _data_disks(params: Params) -> tuple[DataDiskSpec, ...] | None:
    records = params.records("DataDisk")
    if not records:
        return None
    disks = []
    for n, record in enumerate(records, start=1):
        sub = Params((f"DataDisk.{n}.{k}", v) for k, v in record.items())
        index = sub.integer(f"DataDisk.{n}.Index")
        size = sub.integer(f"DataDisk.{n}.Size")
        if index is None or size is None:
            raise errors.missing_parameter(f"DataDisk.{n}.{'Index' if index is None else 'Size'}")
        disks.append(DataDiskSpec(index=index, size_gib=size))
    return tuple(disks)


def _replication_parameters(raw: str) -> dict[str, object]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise errors.invalid_parameter("ReplicationParameters", "not a JSON object") from exc
    if not isinstance(value, dict):
        raise errors.invalid_parameter("ReplicationParameters", "not a JSON object")
    return value


def _int_option(options: dict[str, object], key: str) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # "5" and 5.0 are accepted; 1.7, true, [1], NaN and 1e400 are not silently truncated
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and text.lstrip("-").isdecimal() and text.isascii():
        return int(text)
    raise errors.invalid_parameter("ReplicationParameters", f"{key} must be an integer")


def _bool_option(options: dict[str, object], key: str) -> bool | None:
    value = options.get(key)
    if value is None or isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise errors.invalid_parameter("ReplicationParameters", f"{key} must be true or false")
