"""Safe source operations and SMC's codes and fields, through the official SDK."""

from __future__ import annotations

from typing import Any

from alibabacloud_smc20190601 import models as m
from alibabacloud_smc20190601.client import Client as SmcClient

from smc.live import LiveServer
from smc.test_sdk import create_job, describe_job, new_source, refused


def _source(smc: SmcClient, source_id: str) -> Any:
    found = smc.describe_source_servers(m.DescribeSourceServersRequest(source_id=[source_id]))
    return found.body.source_servers.source_server[0]


def test_a_source_with_a_running_job_is_never_deleted(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "safe-running")
    job_id = create_job(smc, source_id)
    related = refused(smc.delete_source_server, m.DeleteSourceServerRequest(source_id=source_id))
    assert related.code == "ReplicationJob.Related"
    smc.start_replication_job(m.StartReplicationJobRequest(job_id=job_id))
    for force in (False, True):
        busy = refused(smc.delete_source_server,
                       m.DeleteSourceServerRequest(source_id=source_id, force=force))
        assert busy.code == "SourceServer.WithRunningReplicationJob" and job_id in busy.message
    assert describe_job(smc, job_id).status == "Running"  # the job survived


def test_source_names_are_unique_and_fields_follow_smc(smc: SmcClient, live: LiveServer) -> None:
    first, second = (new_source(smc, live, h) for h in ("safe-a", "safe-b"))
    smc.modify_source_server_attribute(m.ModifySourceServerAttributeRequest(
        source_id=first, name="front-end"))
    taken = refused(smc.modify_source_server_attribute, m.ModifySourceServerAttributeRequest(
        source_id=second, name="front-end"))
    assert taken.code == "SourceServerName.Duplicate"
    smc.modify_source_server_attribute(m.ModifySourceServerAttributeRequest(
        source_id=first, name="front-end", description="same name again is fine"))
    server = _source(smc, first)
    assert (server.replication_driver, server.heartbeat_rate) == ("SMT", 30)


def test_codes_for_held_image_names_duplicate_disks_and_token_filters(
        smc: SmcClient, live: LiveServer) -> None:
    first, second = (new_source(smc, live, h) for h in ("codes-a", "codes-b"))
    create_job(smc, first, image_name="held-image")
    held = refused(create_job, smc, second, image_name="held-image")
    assert held.code == "ImageName.UsedByReplicationJob"
    twice = [m.CreateReplicationJobRequestDataDisk(index=1, size=25),
             m.CreateReplicationJobRequestDataDisk(index=1, size=26)]
    assert refused(create_job, smc, second, data_disk=twice).code == "DataDisk.DuplicateIndex"
    wanted = smc.create_access_token(m.CreateAccessTokenRequest(name="filter-me")).body
    for _ in range(10):  # the wanted code is now beyond the first (default) page of 10
        smc.create_access_token(m.CreateAccessTokenRequest(name="filler"))
    page = smc.list_access_tokens(m.ListAccessTokensRequest(
        access_token_id=wanted.access_token_id)).body
    assert [t.access_token_id for t in page.access_tokens.access_token] == [
        wanted.access_token_id]
    named = smc.list_access_tokens(m.ListAccessTokensRequest(name="filter-me")).body
    assert len(named.access_tokens.access_token) == 1


def test_delete_access_token(smc: SmcClient, live: LiveServer) -> None:
    source_id = new_source(smc, live, "token-delete")  # imported with a token of its own
    token = smc.create_access_token(m.CreateAccessTokenRequest(name="to-delete")).body
    smc.delete_access_token(m.DeleteAccessTokenRequest(access_token_id=token.access_token_id))
    left = smc.list_access_tokens(m.ListAccessTokensRequest(
        access_token_id=token.access_token_id)).body
    assert left.access_tokens.access_token == []
    again = refused(smc.delete_access_token, m.DeleteAccessTokenRequest(
        access_token_id=token.access_token_id))
    assert again.status_code == 404
    assert _source(smc, source_id).source_id == source_id
