"""The official Alibaba Cloud SMC SDK against a real `rehost server` (only the endpoint changed)."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_smc20190601 import models as m
from alibabacloud_smc20190601.client import Client as SmcClient
from alibabacloud_tea_openapi.exceptions import ClientException

from rehost.client import AgentClient
from rehost.config import load_settings
from rehost.services import accounts, bootstrap
from smc.conftest import sdk_client
from smc.inventory import inventory
from smc.live import LiveServer
from smc.rawsign import post, signed_headers


def new_source(smc: SmcClient, live: LiveServer, hostname: str) -> str:
    """Create an activation code with the SDK and import a source with it (agent REST)."""
    token = smc.create_access_token(m.CreateAccessTokenRequest(count="2", name="sdk-test")).body
    agent = AgentClient(live.endpoint)
    try:
        doc = agent.import_source(code_id=token.access_token_id, code=token.access_token_code,
                                  inventory=inventory(hostname))
    finally:
        agent.close()
    return str(doc["source_id"])


def refused(call: Any, *args: Any, **kwargs: Any) -> ClientException:
    """Run an SDK call that must be refused; return the SDK's exception."""
    with pytest.raises(ClientException) as info:
        call(*args, **kwargs)
    return info.value


def describe_job(smc: SmcClient, job_id: str) -> Any:
    body = smc.describe_replication_jobs(m.DescribeReplicationJobsRequest(job_id=[job_id])).body
    assert body.total_count == 1
    return body.replication_jobs.replication_job[0]


def create_job(smc: SmcClient, source_id: str, **fields: Any) -> str:
    request = m.CreateReplicationJobRequest(source_id=source_id, region_id="local", **fields)
    return str(smc.create_replication_job(request).body.job_id)


def test_activation_code_and_imported_source_are_visible(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "web-visible")
    found = smc.describe_source_servers(m.DescribeSourceServersRequest(source_id=[source_id]))
    server = found.body.source_servers.source_server[0]
    assert (server.source_id, server.state, server.system_disk_size) == (source_id, "Available",
                                                                        10)
    assert [(d.index, d.size) for d in server.data_disks.data_disk] == [(1, 20)]
    tokens = smc.list_access_tokens(m.ListAccessTokensRequest(name="sdk-test")).body
    assert any(t.registered_count == "1" for t in tokens.access_tokens.access_token)


def test_job_create_describe_modify_start_and_refused_stop(smc: SmcClient,
                                                           live: LiveServer) -> None:
    source_id = new_source(smc, live, "web-lifecycle")
    job_id = create_job(smc, source_id, name="lifecycle-job", system_disk_size=12,
                        data_disk=[m.CreateReplicationJobRequestDataDisk(index=1, size=25)],
                        image_name="lifecycle-image",
                        replication_parameters='{"bandwidth_limit":1024,"compress_level":3}')
    job = describe_job(smc, job_id)
    assert (job.status, job.name, job.system_disk_size, job.source_id) == (
        "Ready", "lifecycle-job", 12, source_id)
    assert [(d.index, d.size) for d in job.data_disks.data_disk] == [(1, 25)]
    smc.modify_replication_job_attribute(m.ModifyReplicationJobAttributeRequest(
        job_id=job_id, name="renamed-job", system_disk_size=15))
    job = describe_job(smc, job_id)
    assert (job.name, job.system_disk_size) == ("renamed-job", 15)
    smc.start_replication_job(m.StartReplicationJobRequest(job_id=job_id))
    job = describe_job(smc, job_id)
    # no data plane in this server: the job holds its slot in Running/Preparing
    assert (job.status, job.business_status) == ("Running", "Preparing")
    stop = refused(smc.stop_replication_job, m.StopReplicationJobRequest(job_id=job_id))
    assert (stop.code, stop.status_code) == ("ReplicationJob.InvalidStatus", 400)
    delete = refused(smc.delete_replication_job, m.DeleteReplicationJobRequest(job_id=job_id))
    assert delete.code == "ReplicationJob.InvalidStatus"
    modify = m.ModifyReplicationJobAttributeRequest(job_id=job_id, system_disk_size=16)
    assert refused(smc.modify_replication_job_attribute, modify).code.startswith(
        "ReplicationJob.")


def test_ready_job_is_deleted(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "web-delete")
    job_id = create_job(smc, source_id)
    smc.delete_replication_job(m.DeleteReplicationJobRequest(job_id=job_id))
    gone = smc.describe_replication_jobs(m.DescribeReplicationJobsRequest(job_id=[job_id]))
    assert gone.body.total_count == 0
    again = refused(smc.delete_replication_job, m.DeleteReplicationJobRequest(job_id=job_id))
    assert (again.code, again.status_code) == ("InvalidJobId.NotFound", 404)


def test_create_refusals_use_smc_codes(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "web-refusals")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"run_once": False}, "InvalidParameter.Frequency"),
        ({"system_disk_size": 1}, "InvalidParameter.SystemDiskSize"),
        ({"target_type": "ContainerImage"}, "Unsupported.TargetType"),
        ({"target_type": "Disk"}, "InvalidParameter.TargetType"),
        ({"data_disk": [m.CreateReplicationJobRequestDataDisk(index=5, size=10)]},
         "InvalidParameter.DataDisk"),
    ]
    for fields, code in cases:
        error = refused(create_job, smc, source_id, **fields)
        assert error.code.startswith(code), (fields, error.code, error.message)
    unknown = refused(create_job, smc, "s-doesnotexist")
    assert (unknown.code, unknown.status_code) == ("InvalidSourceServerId.NotFound", 404)
    missing = refused(smc.create_replication_job, m.CreateReplicationJobRequest(
        source_id=source_id))
    assert missing.code == "MissingParameter"
    listed = smc.describe_replication_jobs(m.DescribeReplicationJobsRequest(source_id=[source_id]))
    assert listed.body.total_count == 0  # nothing half-created


def test_modify_and_delete_source(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "web-modify")
    smc.modify_source_server_attribute(m.ModifySourceServerAttributeRequest(
        source_id=source_id, name="renamed-source", description="front end"))
    found = smc.describe_source_servers(m.DescribeSourceServersRequest(source_id=[source_id]))
    server = found.body.source_servers.source_server[0]
    assert (server.name, server.description) == ("renamed-source", "front end")
    create_job(smc, source_id)
    busy = refused(smc.delete_source_server, m.DeleteSourceServerRequest(source_id=source_id))
    assert busy.status_code == 400
    smc.delete_source_server(m.DeleteSourceServerRequest(source_id=source_id, force=True))
    after = smc.describe_source_servers(m.DescribeSourceServersRequest(source_id=[source_id]))
    assert all(s.state == "Deleting" for s in after.body.source_servers.source_server)


def test_wrong_secret_is_signature_mismatch(live: LiveServer) -> None:
    client = sdk_client(live, secret="not-the-secret")
    error = refused(client.describe_source_servers, m.DescribeSourceServersRequest())
    assert (error.code, error.status_code) == ("SignatureDoesNotMatch", 400)


def test_unknown_access_key(live: LiveServer) -> None:
    client = sdk_client(live, key_id="RHNOSUCHKEY", secret="x")
    error = refused(client.describe_source_servers, m.DescribeSourceServersRequest())
    assert (error.code, error.status_code) == ("InvalidAccessKeyId.NotFound", 404)


def test_replayed_request_is_refused(live: LiveServer) -> None:
    query = {"PageSize": "5"}
    headers = signed_headers(host=live.host_port, action="DescribeSourceServers", query=query,
                             key_id=live.access_key_id, secret=live.access_key_secret)
    first = post(live.endpoint, headers, query)
    assert first.status_code == 200, first.text
    replay = post(live.endpoint, headers, query)
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")
    assert set(replay.json()) == {"RequestId", "HostId", "Code", "Message", "Recommend"}


@pytest.mark.parametrize("action, version, code, status", [
    ("NoSuchAction", "2019-06-01", "InvalidAction.NotFound", 404),
    ("DescribeSourceServers", "2014-05-26", "InvalidVersion", 400),
])
def test_unknown_action_or_version(live: LiveServer, action: str, version: str, code: str,
                                   status: int) -> None:
    headers = signed_headers(host=live.host_port, action=action, query={}, version=version,
                             key_id=live.access_key_id, secret=live.access_key_secret)
    response = post(live.endpoint, headers, {})
    assert (response.status_code, response.json()["Code"]) == (status, code)


def test_another_accounts_job_is_invisible(smc: SmcClient, live: LiveServer) -> None:
    job_id = create_job(smc, new_source(smc, live, "web-private"))
    ctx = bootstrap.open_context(load_settings(data_dir=live.data_dir, env={}))
    try:
        other = accounts.create_account(ctx, name="other", password="other-password-123")
        key = accounts.create_access_key(ctx, other.id)
    finally:
        ctx.db.dispose()
    stranger = sdk_client(live, key_id=key.key.id, secret=key.secret)
    seen = stranger.describe_replication_jobs(m.DescribeReplicationJobsRequest(job_id=[job_id]))
    assert seen.body.total_count == 0
    start = refused(stranger.start_replication_job, m.StartReplicationJobRequest(job_id=job_id))
    assert (start.code, start.status_code) == ("InvalidJobId.NotFound", 404)


def test_describe_filters_by_business_status_and_several_sources(
    smc: SmcClient, live: LiveServer
) -> None:
    first, second = new_source(smc, live, "web-filter-1"), new_source(smc, live, "web-filter-2")
    started = create_job(smc, first, system_disk_size=12)
    waiting = create_job(smc, second, system_disk_size=12)
    smc.start_replication_job(m.StartReplicationJobRequest(job_id=started))
    both = smc.describe_replication_jobs(m.DescribeReplicationJobsRequest(
        source_id=[first, second], page_size=50)).body
    assert {j.job_id for j in both.replication_jobs.replication_job} == {started, waiting}
    preparing = smc.describe_replication_jobs(m.DescribeReplicationJobsRequest(
        source_id=[first, second], business_status="Preparing")).body
    assert [j.job_id for j in preparing.replication_jobs.replication_job] == [started]
    bad = refused(smc.describe_replication_jobs,
                  m.DescribeReplicationJobsRequest(business_status="Flying"))
    assert (bad.code, bad.status_code) == ("InvalidParameter.BusinessStatus", 400)
