"""DescribeSourceServers as SMC shows it: InUse while a Ready/Running/Stopped job exists (and
the State filter agrees), `0_0` device ids, real Need/CanBlock, SystemInfo with cores,
memory, addresses and usage."""

from __future__ import annotations

import json
from typing import Any

from alibabacloud_smc20190601 import models as m
from alibabacloud_smc20190601.client import Client as SmcClient

from rehost.client import AgentClient
from smc.inventory import GIB, inventory
from smc.live import LiveServer
from smc.test_sdk import create_job

SYSTEM = {"cpu_cores": 4, "memory_bytes": 8 * GIB, "memory_available_bytes": 3 * GIB,
          "load_average": [0.5, 0.4, 0.3], "ip_addresses": ["192.0.2.10", "2001:db8::10"]}


def _source(smc: SmcClient, live: LiveServer, hostname: str) -> str:
    token = smc.create_access_token(m.CreateAccessTokenRequest(count="1")).body
    doc = inventory(hostname)
    swap = {"number": 2, "start_bytes": 9 * GIB, "size_bytes": GIB, "type": "82", "fs": "swap",
            "uuid": "swap-1", "label": "", "used_bytes": 0, "mountpoint": ""}
    doc["disks"][0]["partitions"].append(swap)
    doc["system"] = SYSTEM
    agent = AgentClient(live.endpoint)
    try:
        made = agent.import_source(code_id=token.access_token_id,
                                   code=token.access_token_code, inventory=doc)
    finally:
        agent.close()
    return str(made["source_id"])


def _ids(smc: SmcClient, state: str) -> set[str]:
    body = smc.describe_source_servers(m.DescribeSourceServersRequest(state=state,
                                                                      page_size=50)).body
    return {s.source_id for s in body.source_servers.source_server}


def _server(smc: SmcClient, source_id: str) -> Any:
    body = smc.describe_source_servers(m.DescribeSourceServersRequest(source_id=[source_id]))
    return body.body.source_servers.source_server[0]


def test_in_use_while_a_job_holds_the_source(smc: SmcClient, live: LiveServer) -> None:
    source_id = _source(smc, live, "held-1")
    assert _server(smc, source_id).state == "Available"
    assert source_id in _ids(smc, "Available") and source_id not in _ids(smc, "InUse")
    job_id = create_job(smc, source_id)  # Ready: SMC shows the source InUse
    assert _server(smc, source_id).state == "InUse"
    assert source_id in _ids(smc, "InUse") and source_id not in _ids(smc, "Available")
    smc.delete_replication_job(m.DeleteReplicationJobRequest(job_id=job_id))
    assert _server(smc, source_id).state == "Available"


def test_devices_and_system_info(smc: SmcClient, live: LiveServer) -> None:
    server = _server(smc, _source(smc, live, "info-1"))
    parts = server.system_disk_parts.system_disk_part
    assert [(p.device, p.need, p.can_block) for p in parts] == [("0_0", True, True),
                                                                ("0_1", False, True)]
    data = server.data_disks.data_disk[0].parts.part
    assert [p.device for p in data] == ["1_0"]
    info = json.loads(server.system_info)
    assert {k: info[k] for k in SYSTEM} == SYSTEM
    assert info["disk_size_bytes"] == 30 * GIB and info["disk_used_bytes"] == 3 * GIB
