"""Tags through the official SDK: Tag.N on create, TagResources/ListTagResources/UntagResources,
Tag.N filters on Describe*, SMC's key rules and the 20-tag limit."""

from __future__ import annotations

from alibabacloud_smc20190601 import models as m
from alibabacloud_smc20190601.client import Client as SmcClient

from smc.live import LiveServer
from smc.test_sdk import create_job, describe_job, new_source, refused


def _jobs_tagged(smc: SmcClient, key: str, value: str = "") -> list[str]:
    request = m.DescribeReplicationJobsRequest(
        tag=[m.DescribeReplicationJobsRequestTag(key=key, value=value or None)])
    body = smc.describe_replication_jobs(request).body
    return [j.job_id for j in body.replication_jobs.replication_job]


def test_tags_on_create_filter_and_show(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "tags-create")
    job_id = create_job(smc, source_id, tag=[
        m.CreateReplicationJobRequestTag(key="team", value="web"),
        m.CreateReplicationJobRequestTag(key="env", value="prod")])
    job = describe_job(smc, job_id)
    assert sorted((t.key, t.value) for t in job.tags.tag) == [("env", "prod"), ("team", "web")]
    assert _jobs_tagged(smc, "team", "web") == [job_id]
    assert _jobs_tagged(smc, "team") == [job_id]
    assert _jobs_tagged(smc, "nosuch") == []
    assert _jobs_tagged(smc, "team", "db") == []


def test_tag_list_untag_sources_and_jobs(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "tags-actions")
    smc.tag_resources(m.TagResourcesRequest(
        resource_type="SourceServer", resource_id=[source_id],
        tag=[m.TagResourcesRequestTag(key="rack", value="r1")]))
    listed = smc.list_tag_resources(m.ListTagResourcesRequest(
        resource_type="sourceserver", resource_id=[source_id])).body
    assert [(t.resource_id, t.tag_key, t.tag_value)
            for t in listed.tag_resources.tag_resource] == [(source_id, "rack", "r1")]
    tagged = smc.describe_source_servers(m.DescribeSourceServersRequest(
        tag=[m.DescribeSourceServersRequestTag(key="rack", value="r1")])).body
    assert [s.source_id for s in tagged.source_servers.source_server] == [source_id]
    smc.untag_resources(m.UntagResourcesRequest(resource_type="sourceserver",
                                                resource_id=[source_id], tag_key=["rack"]))
    after = smc.list_tag_resources(m.ListTagResourcesRequest(
        resource_type="sourceserver", resource_id=[source_id])).body
    assert after.tag_resources.tag_resource == []


def test_tag_rules_and_limits(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "tags-rules")
    for key in ("aliyun-x", "acs:x", "see http://x", "k" * 129):
        error = refused(create_job, smc, source_id,
                        tag=[m.CreateReplicationJobRequestTag(key=key, value="v")])
        assert error.code == "InvalidParameter.TagKey", (key, error.code)
    job_id = create_job(smc, source_id)
    many = [m.TagResourcesRequestTag(key=f"k{i}", value="v") for i in range(20)]
    smc.tag_resources(m.TagResourcesRequest(resource_type="replicationjob",
                                            resource_id=[job_id], tag=many))
    more = refused(smc.tag_resources, m.TagResourcesRequest(
        resource_type="replicationjob", resource_id=[job_id],
        tag=[m.TagResourcesRequestTag(key="k20", value="v")]))
    assert more.code == "QuotaExceeded.Tags"
    unknown = refused(smc.tag_resources, m.TagResourcesRequest(
        resource_type="replicationjob", resource_id=["j-nosuch"],
        tag=[m.TagResourcesRequestTag(key="a", value="b")]))
    assert unknown.code == "InvalidJobId.NotFound"
    kind = refused(smc.tag_resources, m.TagResourcesRequest(
        resource_type="image", resource_id=[job_id],
        tag=[m.TagResourcesRequestTag(key="a", value="b")]))
    assert kind.code == "InvalidParameter.ResourceType"
    smc.untag_resources(m.UntagResourcesRequest(resource_type="replicationjob",
                                                resource_id=[job_id], all=True))
    assert describe_job(smc, job_id).tags.tag == []
