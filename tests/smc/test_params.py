"""SMC parameter decoding and the SMC → JobRequest mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rehost.api.smc.errors import SmcError
from rehost.api.smc.job_request import job_request
from rehost.api.smc.params import Params
from rehost.domain.models import DataDiskSpec, ExecutionMode


def params(**values: str) -> Params:
    return Params((k.replace("__", "."), v) for k, v in values.items())


def test_repeated_and_records_follow_sdk_flattening() -> None:
    p = Params([("JobId.2", "j-b"), ("JobId.1", "j-a"), ("DataDisk.2.Size", "30"),
                ("DataDisk.1.Index", "1"), ("DataDisk.1.Size", "20"), ("DataDisk.2.Index", "2")])
    assert p.repeated("JobId") == ["j-a", "j-b"]
    assert p.records("DataDisk") == [{"Index": "1", "Size": "20"}, {"Size": "30", "Index": "2"}]


@pytest.mark.parametrize("raw, ok", [("true", True), ("True", True), ("False", False),
                                     ("maybe", None)])
def test_boolean(raw: str, ok: bool | None) -> None:
    if ok is None:
        with pytest.raises(SmcError):
            params(RunOnce=raw).boolean("RunOnce")
    else:
        assert params(RunOnce=raw).boolean("RunOnce") is ok


def test_integer_range_error_names_the_parameter() -> None:
    with pytest.raises(SmcError) as info:
        params(PageSize="51").integer("PageSize", low=1, high=50)
    assert info.value.code == "InvalidParameter.PageSize"


def test_job_request_maps_every_supported_field() -> None:
    req = job_request(params(
        Name="job-a", Description="d", SystemDiskSize="40", DataDisk__1__Index="1",
        DataDisk__1__Size="100", ImageName="img", ScheduledStartTime="2026-12-01T08:00:00Z",
        ValidTime="2026-12-20T00:00:00Z", NetMode="0", InstanceType="ecs.g6.large",
        ReplicationParameters='{"bandwidth_limit":2048,"compress_level":7,"checksum":true}',
    ))
    assert (req.name, req.description, req.system_disk_size_gib) == ("job-a", "d", 40)
    assert req.data_disks == (DataDiskSpec(index=1, size_gib=100),)
    assert req.mode is ExecutionMode.SCHEDULED
    assert req.scheduled_start_time == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert (req.bandwidth_limit_kbps, req.compress_level, req.checksum) == (2048, 7, True)


@pytest.mark.parametrize("fields, code", [
    ({"RunOnce": "false", "Frequency": "200"}, "InvalidParameter.Frequency"),
    ({"NetMode": "2"}, "Unsupported.NetMode"),
    ({"NetMode": "2", "VSwitchId": "vsw-1"}, "Unsupported.NetMode"),
    ({"NetMode": "0", "VpcId": "vpc-1"}, "Unsupported.NetMode"),
    ({"NetMode": "1"}, "InvalidParameter.NetMode"),
    ({"JobType": "3"}, "InvalidParameter.JobType"),
    ({"DataDisk.1.Size": "10"}, "MissingParameter"),
    ({"ReplicationParameters": "[1]"}, "InvalidParameter.ReplicationParameters"),
    ({"ScheduledStartTime": "tomorrow"}, "InvalidParameter.ScheduledStartTime"),
])
def test_job_request_refusals(fields: dict[str, str], code: str) -> None:
    with pytest.raises(SmcError) as info:
        job_request(Params(fields.items()))
    assert info.value.code == code
