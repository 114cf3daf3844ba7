"""Every action of the official SDK's Client is implemented or refused with `Unsupported.*`;
every parameter rehost does not honour is refused by name, never dropped."""

from __future__ import annotations

import re
from typing import Any

import pytest
from alibabacloud_smc20190601 import models as m
from alibabacloud_smc20190601.client import Client as SmcClient

from rehost.api.smc.accepted import UNSUPPORTED
from rehost.api.smc.router import ACTIONS
from smc.live import LiveServer
from smc.test_sdk import create_job, describe_job, new_source, refused


def sdk_actions() -> list[str]:
    """Action names (CamelCase) of the SDK's Client, from its `<action>_with_options` methods."""
    names = [n[: -len("_with_options")] for n in dir(SmcClient)
             if n.endswith("_with_options") and not n.endswith("_async_with_options")
             and not n.startswith("_")]
    return sorted("".join(part.capitalize() for part in n.split("_")) for n in names)


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def test_rehost_knows_every_sdk_action() -> None:
    actions = sdk_actions()
    assert len(actions) >= 24
    unknown = set(actions) - set(ACTIONS) - set(UNSUPPORTED)
    assert not unknown, f"SDK actions neither implemented nor refused: {sorted(unknown)}"
    assert set(ACTIONS).isdisjoint(UNSUPPORTED)


@pytest.mark.parametrize("action", sdk_actions())
def test_every_sdk_action_answers(smc: SmcClient, action: str) -> None:
    request = getattr(m, f"{action}Request")()
    call = getattr(smc, _snake(action))
    if action in UNSUPPORTED:
        error = refused(call, request)
        assert error.code.startswith("Unsupported."), (action, error.code)
        assert action in error.message and "不支持" in error.message
        return
    try:
        call(request)  # an empty request: describes answer, the rest lack a parameter
    except Exception as exc:  # the SDK's ClientException
        code = getattr(exc, "code", "")
        assert code == "MissingParameter", (action, code, exc)


def _create_refused(smc: SmcClient, source_id: str, **fields: Any) -> str:
    error = refused(create_job, smc, source_id, **fields)
    assert error.code == "InvalidParameter.Unsupported", (fields, error.code)
    return str(error.message)


def test_unhonoured_create_parameters_are_refused_by_name(smc: SmcClient,
                                                          live: LiveServer) -> None:
    source_id = new_source(smc, live, "no-silent-drops")
    assert "InstanceType" in _create_refused(smc, source_id, instance_type="ecs.g6.large")
    assert "LicenseType" in _create_refused(smc, source_id, license_type="BYOL")
    part = [m.CreateReplicationJobRequestSystemDiskPart(device="0_1", size_bytes=1 << 30,
                                                        block=True)]
    assert "SystemDiskPart.1." in _create_refused(smc, source_id, system_disk_part=part)
    data_part = [m.CreateReplicationJobRequestDataDiskPart(device="1_1", size_bytes=1 << 30,
                                                           block=True)]
    disk = [m.CreateReplicationJobRequestDataDisk(index=1, size=25, part=data_part)]
    assert "DataDisk.1.Part.1." in _create_refused(smc, source_id, data_disk=disk)
    assert "ContainerNamespace" in _create_refused(smc, source_id, container_namespace="ns")
    job_id = create_job(smc, source_id, target_type="image")  # SMC's TargetType ignores case
    assert describe_job(smc, job_id).status == "Ready"


def test_unhonoured_describe_filters_are_refused_not_ignored(smc: SmcClient) -> None:
    cases: list[dict[str, Any]] = [
        {"instance_id": ["i-1"]}, {"resource_group_id": "rg-1"}, {"job_type": 0},
    ]
    for fields in cases:
        error = refused(smc.describe_replication_jobs, m.DescribeReplicationJobsRequest(**fields))
        assert error.code == "InvalidParameter.Unsupported", (fields, error.code)
    tagged = m.DescribeSourceServersRequest(related_job_type="1")
    assert refused(smc.describe_source_servers, tagged).code == "InvalidParameter.Unsupported"
