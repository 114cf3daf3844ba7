"""The six workgroup actions through the official SDK."""

from __future__ import annotations

from typing import Any

from alibabacloud_smc20190601 import models as m
from alibabacloud_smc20190601.client import Client as SmcClient

from smc.live import LiveServer
from smc.test_sdk import new_source, refused


def _describe(smc: SmcClient, **fields: Any) -> list[Any]:
    body = smc.describe_workgroups(m.DescribeWorkgroupsRequest(**fields)).body
    return list(body.workgroups.workgroup)


def test_workgroup_lifecycle(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "wg-member")
    created = smc.create_workgroup(m.CreateWorkgroupRequest(
        name="web-tier", description="front ends", client_token="wg-token",
        tag=[m.CreateWorkgroupRequestTag(key="team", value="web")])).body.workgroup_id
    again = smc.create_workgroup(m.CreateWorkgroupRequest(
        name="web-tier", description="front ends", client_token="wg-token",
        tag=[m.CreateWorkgroupRequestTag(key="team", value="web")])).body.workgroup_id
    assert again == created  # ClientToken
    duplicate = refused(smc.create_workgroup, m.CreateWorkgroupRequest(name="web-tier"))
    assert duplicate.code == "WorkgroupName.Duplicate"
    smc.associate_source_servers(m.AssociateSourceServersRequest(
        workgroup_id=created, source_id=[source_id]))
    [group] = _describe(smc, workgroup_id=[created])
    assert (group.name, group.description, group.status) == ("web-tier", "front ends",
                                                             "Available")
    assert [(t.key, t.value) for t in group.tags.tag] == [("team", "web")]
    tagged = _describe(smc, tag=[m.DescribeWorkgroupsRequestTag(key="team", value="web")])
    assert [g.workgroup_id for g in tagged] == [created]
    assert _describe(smc, tag=[m.DescribeWorkgroupsRequestTag(key="nosuch")]) == []
    smc.modify_workgroup_attribute(m.ModifyWorkgroupAttributeRequest(
        workgroup_id=created, name="web-tier-2"))
    assert _describe(smc, workgroup_id=[created])[0].name == "web-tier-2"
    smc.disassociate_source_servers(m.DisassociateSourceServersRequest(
        workgroup_id=created, source_id=[source_id]))
    missing = refused(smc.associate_source_servers, m.AssociateSourceServersRequest(
        workgroup_id=created, source_id=["s-nosuch"]))
    assert missing.code == "InvalidSourceServerId.NotFound"
    smc.delete_workgroup(m.DeleteWorkgroupRequest(workgroup_id=created))
    assert _describe(smc, workgroup_id=[created]) == []
    gone = refused(smc.delete_workgroup, m.DeleteWorkgroupRequest(workgroup_id=created))
    assert gone.code == "InvalidWorkgroupId.NotFound"
