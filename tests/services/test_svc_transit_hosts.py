"""Transit hosts: allocation to online hosts, offline fallback, host auth, work instructions."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rehost.api.app import create_app
from rehost.domain.errors import NotFound, Unauthenticated
from rehost.domain.models import Override
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.services import (
    accounts,
    dataplane,
    host_codes,
    host_work,
    jobs,
    lookup,
    regions,
    runs,
)
from rehost.services import transit_hosts as th
from rehost.services.context import ServiceContext
from rehost.services.transit_control import ServiceTransitControl
from rehost.transit.ports import DiskDigest


def started(ctx: ServiceContext, account: Any, make_source: Any, region: str = "edge") -> Any:
    """A started job in `region` on a fresh source."""
    src = make_source(system_gib=1, system_used_gib=0.001, min_gib=0.01)
    job = jobs.create_job(ctx, account.id, source_id=src.source_id, region_id=region,
                          request=JobRequest(system_disk_size_gib=1))
    return runs.start_job(ctx, account.id, job.id)


def transit_of(ctx: ServiceContext, job_id: str) -> Any:
    """The job's active transit row (detached)."""
    with ctx.db.read() as session:
        row = lookup.active_transit(session, job_id)
        assert row is not None
        return row


def register(ctx: ServiceContext, account: Any, port: int,
             host: str = "127.0.0.3") -> th.Registration:
    """A host at host:port in region `edge`, registered with a fresh code."""
    code = host_codes.create_code(ctx, account.id, region_id="edge", host_name=host)
    return th.register_host(ctx, code=code.secret, name=f"edge-{port}",
                            data_endpoint=f"{host}:{port}")


@pytest.fixture
def edge(ctl_ctx: ServiceContext, ctl_account: Any) -> str:
    """Region `edge` of the test account."""
    regions.create_region(ctl_ctx, ctl_account.id, region_id="edge")
    return "edge"


def test_jobs_go_to_the_least_busy_online_host_else_embedded(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any, edge: str,
) -> None:
    first, second = register(ctl_ctx, ctl_account, 9001), register(ctl_ctx, ctl_account, 9002)
    hosts = [transit_of(ctl_ctx, started(ctl_ctx, ctl_account, ctl_source).id).host_id
             for _ in range(4)]
    assert sorted(hosts) == sorted([first.host.id, second.host.id] * 2)
    job = started(ctl_ctx, ctl_account, ctl_source)
    assert transit_of(ctl_ctx, job.id).endpoint in ("127.0.0.3:9001", "127.0.0.3:9002")
    local = started(ctl_ctx, ctl_account, ctl_source, region="local")
    assert transit_of(ctl_ctx, local.id).host_id is None
    listed = th.list_hosts(ctl_ctx, ctl_account.id, edge)
    assert sum(h.active_transits for h in listed) == 5 and {h.state for h in listed} == {"Online"}
    ctl_clock.advance(seconds=3 * ctl_ctx.settings.heartbeat_interval_s + 1)
    th.heartbeat(ctl_ctx, second.token)
    assert transit_of(ctl_ctx, started(ctl_ctx, ctl_account, ctl_source).id).host_id == \
        second.host.id  # only the host that still beats gets new transits
    ctl_clock.advance(seconds=3 * ctl_ctx.settings.heartbeat_interval_s + 1)
    fallback = transit_of(ctl_ctx, started(ctl_ctx, ctl_account, ctl_source).id)
    assert fallback.host_id is None and fallback.work_dir  # every host offline: embedded pool
    assert {h.state for h in th.list_hosts(ctl_ctx, ctl_account.id, edge)} == {"Offline"}


def test_host_token_and_job_ownership(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, edge: str,
) -> None:
    reg = register(ctl_ctx, ctl_account, 9001)
    with pytest.raises(Unauthenticated):
        th.authenticate(ctl_ctx, "not-a-token")
    other = accounts.create_account(ctl_ctx, name="other-acct-th", password="pw-123456")
    regions.create_region(ctl_ctx, other.id, region_id="edge")
    stranger = register(ctl_ctx, other, 9001, host="127.0.0.4")
    job = started(ctl_ctx, ctl_account, ctl_source)
    token = dataplane_token(ctl_ctx, job.id)
    mine = th.authenticate(ctl_ctx, reg.token)
    theirs = th.authenticate(ctl_ctx, stranger.token)
    assert host_work.lookup(ctl_ctx, theirs, token) is None
    found = host_work.lookup(ctl_ctx, mine, token)
    assert found is not None and found[1] == transit_of(ctl_ctx, job.id).id
    assert ServiceTransitControl(ctl_ctx).lookup(token) is None  # the embedded pool refuses it
    with pytest.raises(NotFound):
        host_work.sync_done(ctl_ctx, theirs, job.id, ())
    with pytest.raises(NotFound):
        host_work.own_task(ctl_ctx, mine, "j-doesnotexist")


def dataplane_token(ctx: ServiceContext, job_id: str) -> str:
    """The job's data token (re-derived as the agent receives it)."""
    from rehost.services import transits

    return transits.data_token(ctx, transit_of(ctx, job_id))


def test_work_pause_build_finish_release(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, edge: str,
) -> None:
    host = th.authenticate(ctl_ctx, register(ctl_ctx, ctl_account, 9001).token)
    job = started(ctl_ctx, ctl_account, ctl_source)
    transit_id = transit_of(ctl_ctx, job.id).id
    assert host_work.lookup(ctl_ctx, host, dataplane_token(ctl_ctx, job.id)) is not None
    runs.pause_job(ctl_ctx, ctl_account.id, job.id)
    todo = host_work.work(ctl_ctx, host, [transit_id, "t-gone"])
    assert todo.disconnect == (job.id,) and todo.release == (("t-gone", ""),)
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    dataplane.set_business_status(ctl_ctx, job.id, BusinessStatus.SYNCING)
    host_work.sync_done(ctl_ctx, host, job.id, (DiskDigest(0, ""),))
    (order,) = host_work.work(ctl_ctx, host, [transit_id]).build
    assert order.transit_id == transit_id and order.plan.disks[0][2] == 1024**3
    with pytest.raises(Exception, match="image id"):
        host_work.finish_build(ctl_ctx, host, job.id, manifest={}, image_id="m-x",
                               verify_result="")
    image_id = host_work.finish_build(ctl_ctx, host, job.id, manifest={"disks": []},
                                      image_id=order.plan.image_id, verify_result="")
    done = jobs.get_job(ctl_ctx, ctl_account.id, job.id)
    assert done.status is JobStatus.FINISHED and done.image_id == image_id
    assert host_work.work(ctl_ctx, host, [transit_id]).release == ((transit_id, job.id),)


def basic(key_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic header for an AccessKey."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


def test_api_register_and_host_auth(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, edge: str,
) -> None:
    key = accounts.create_access_key(ctl_ctx, ctl_account.id)
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx)) as client:
        made = client.post("/api/v1/transit-host-codes", headers=basic(key.key.id, key.secret),
                           json={"region_id": edge, "host_name": "127.0.0.3"})
        assert made.status_code == 201, made.text
        r = client.post("/api/v1/transit-hosts", json={
            "registration_code": made.json()["registration_code"], "region_id": edge,
            "name": "edge-1", "data_endpoint": "127.0.0.3:9001"})
        assert r.status_code == 201, r.text
        doc = r.json()
        assert doc["host_id"].startswith("th-") and "BEGIN CERTIFICATE" in doc["cert_pem"]
        assert "PRIVATE KEY" in doc["key_pem"] and "BEGIN CERTIFICATE" in doc["ca_pem"]
        bad = client.post("/api/v1/transit-hosts/self/heartbeat",
                          headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401 and bad.json()["code"] == "InvalidHostToken"
        host = {"Authorization": f"Bearer {doc['host_token']}"}
        assert client.post("/api/v1/transit-hosts/self/heartbeat", headers=host).status_code == 200
        other = started(ctl_ctx, ctl_account, ctl_source, region="local")
        r = client.post(f"/api/v1/transit-hosts/self/jobs/{other.id}/build-failed", headers=host,
                        json={"code": "X", "message": "x"})
        assert r.status_code == 404  # not this host's job
        r = client.post("/api/v1/transit-host-codes", headers=basic(key.key.id, key.secret),
                        json={"region_id": "nowhere", "host_name": "127.0.0.3"})
        assert r.status_code == 404
        listed = client.get("/api/v1/transit-hosts", headers=basic(key.key.id, key.secret))
        assert [h["state"] for h in listed.json()["transit_hosts"]] == ["Online"]


def test_incremental_jobs_stay_on_the_embedded_pool(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, edge: str,
) -> None:
    register(ctl_ctx, ctl_account, 9003)
    src = ctl_source(system_gib=1, system_used_gib=0.001, min_gib=0.01)
    job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=src.source_id, region_id=edge,
                          request=JobRequest(system_disk_size_gib=1, run_once=False,
                                             frequency_hours=12))
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    transit = transit_of(ctl_ctx, job.id)
    assert transit.host_id is None and transit.work_dir  # hosts build one image per transit


def test_a_transit_host_work_order_carries_the_jobs_adaptation_override(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any,
) -> None:
    regions.create_region(ctl_ctx, ctl_account.id, region_id="edge", adapt_guests=True,
                          keep_static_network=True)
    host = th.authenticate(ctl_ctx, register(ctl_ctx, ctl_account, 9002).token)
    plans = []
    for choice in (Override.OFF, Override.REGION):
        src = ctl_source(system_gib=1, system_used_gib=0.001, min_gib=0.01)
        job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=src.source_id,
                              region_id="edge", request=JobRequest(system_disk_size_gib=1,
                                                                   adapt_guests=choice))
        runs.start_job(ctl_ctx, ctl_account.id, job.id)
        dataplane.set_business_status(ctl_ctx, job.id, BusinessStatus.SYNCING)
        host_work.sync_done(ctl_ctx, host, job.id, (DiskDigest(0, ""),))
        transit_id = transit_of(ctl_ctx, job.id).id
        (order,) = [o for o in host_work.work(ctl_ctx, host, [transit_id]).build
                    if o.transit_id == transit_id]
        plans.append((order.plan.adapt_guests, order.plan.keep_static_network))
    assert plans == [(False, False), (True, True)]  # the job's "off", then the region's
