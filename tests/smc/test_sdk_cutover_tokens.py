"""The SDK's CutOverReplicationJob, Waiting rules and ClientToken retries against a live server."""

from __future__ import annotations

import pytest
from alibabacloud_smc20190601 import models as m
from alibabacloud_smc20190601.client import Client as SmcClient
from darabonba.exceptions import UnretryableException

from smc.conftest import sdk_client
from smc.dropproxy import DropProxy
from smc.live import LiveServer
from smc.test_sdk import create_job, describe_job, new_source, refused


def test_cut_over_is_refused_outside_waiting_incremental_jobs(smc: SmcClient,
                                                              live: LiveServer) -> None:
    once = create_job(smc, new_source(smc, live, "cut-once"))
    for sync in (True, False, None):
        error = refused(smc.cut_over_replication_job,
                        m.CutOverReplicationJobRequest(job_id=once, sync_data=sync))
        assert error.code == "ReplicationJob.InvalidStatus" and "RunOnce" in error.message
    incremental = create_job(smc, new_source(smc, live, "cut-incr"), run_once=False, frequency=6,
                             max_number_of_image_to_keep=2)
    error = refused(smc.cut_over_replication_job,
                    m.CutOverReplicationJobRequest(job_id=incremental, sync_data=False))
    assert error.code == "ReplicationJob.InvalidStatus" and "Waiting" in error.message
    missing = refused(smc.cut_over_replication_job, m.CutOverReplicationJobRequest(job_id="j-no"))
    assert missing.code == "InvalidJobId.NotFound"
    assert describe_job(smc, incremental).status == "Ready"


def test_retry_after_a_lost_response_gets_the_same_job(live: LiveServer) -> None:
    smc = sdk_client(live)
    source_id = new_source(smc, live, "token-retry")
    request = m.CreateReplicationJobRequest(source_id=source_id, region_id="local",
                                            name="token-job", client_token="retry-token-1")
    with DropProxy(live.host_port, drop=1) as proxy:
        through = SmcClient(_config_via(live, proxy))
        with pytest.raises(UnretryableException):  # the server created it; the reply was lost
            through.create_replication_job(request)
        job_id = through.create_replication_job(request).body.job_id  # the script retries
    assert proxy.forwarded == 2
    listed = smc.describe_replication_jobs(m.DescribeReplicationJobsRequest(source_id=[source_id]))
    assert [j.job_id for j in listed.body.replication_jobs.replication_job] == [job_id]
    again = smc.create_replication_job(request).body.job_id
    assert again == job_id
    other = m.CreateReplicationJobRequest(source_id=source_id, region_id="local",
                                          name="another-name", client_token="retry-token-1")
    mismatch = refused(smc.create_replication_job, other)
    assert mismatch.code == "IdempotentParameterMismatch"
    bad = m.CreateReplicationJobRequest(source_id=source_id, region_id="local",
                                        client_token="x" * 65)
    assert refused(smc.create_replication_job, bad).code == "InvalidParameter.ClientToken"
    # without a token a second create is a second request: the source is busy
    plain = m.CreateReplicationJobRequest(source_id=source_id, region_id="local", name="token-job")
    assert refused(smc.create_replication_job, plain).code != "IdempotentParameterMismatch"


def _config_via(live: LiveServer, proxy: DropProxy) -> object:
    from alibabacloud_tea_openapi import models as open_api_models

    return open_api_models.Config(
        access_key_id=live.access_key_id, access_key_secret=live.access_key_secret,
        endpoint=proxy.host_port, protocol="http", region_id="local")
