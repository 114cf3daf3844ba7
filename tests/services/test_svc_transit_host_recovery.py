"""Transit hosts: jobs stranded on an offline host, images deleted from a host's store."""

from __future__ import annotations

from typing import Any

import pytest
from test_svc_transit_hosts import register, started, transit_of

from rehost.domain.ids import JobId
from rehost.domain.models import EventLevel
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.services import dataplane, host_work, images, jobs, regions, runs
from rehost.services import transit_hosts as th
from rehost.services.context import ServiceContext
from rehost.transit.ports import DiskDigest


@pytest.fixture
def edge(ctl_ctx: ServiceContext, ctl_account: Any) -> str:
    """Region `edge` of the test account."""
    regions.create_region(ctl_ctx, ctl_account.id, region_id="edge")
    return "edge"


def go_offline(ctx: ServiceContext, clock: Any) -> None:
    """Let every host miss three heartbeats."""
    clock.advance(seconds=3 * ctx.settings.heartbeat_interval_s + 1)


def pause(ctx: ServiceContext, account: Any, job_id: str) -> None:
    """Pause a started job (pausing needs Running/Syncing)."""
    dataplane.set_business_status(ctx, JobId(job_id), BusinessStatus.SYNCING)
    runs.pause_job(ctx, account.id, job_id)


def test_start_keeps_an_online_hosts_transit_and_replaces_an_offline_one(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any, edge: str,
) -> None:
    reg = register(ctl_ctx, ctl_account, 9001)
    job = started(ctl_ctx, ctl_account, ctl_source)
    old = transit_of(ctl_ctx, job.id)
    pause(ctl_ctx, ctl_account, job.id)
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    assert transit_of(ctl_ctx, job.id).id == old.id  # host online: resume on its transit
    pause(ctl_ctx, ctl_account, job.id)
    go_offline(ctl_ctx, ctl_clock)
    restarted = runs.start_job(ctl_ctx, ctl_account.id, job.id)
    new = transit_of(ctl_ctx, job.id)
    assert new.id != old.id and new.host_id is None and new.work_dir  # embedded pool
    assert restarted.status is JobStatus.RUNNING and restarted.run_count == 3
    (warning,) = [e for e in jobs.list_events(ctl_ctx, ctl_account.id, job.id)
                  if e.code == "Transit.HostOffline"]
    assert warning.level is EventLevel.WARNING and old.host_id in warning.message_en
    assert "重新迁移" in warning.message_zh
    host = th.heartbeat(ctl_ctx, reg.token)  # back: its poll deletes the old work dir
    assert host_work.work(ctl_ctx, host, [old.id]).release == ((old.id, job.id),)
    assert th.list_hosts(ctl_ctx, ctl_account.id, edge)[0].active_transits == 0


def test_start_moves_to_another_online_host(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any, edge: str,
) -> None:
    register(ctl_ctx, ctl_account, 9001)
    job = started(ctl_ctx, ctl_account, ctl_source)
    pause(ctl_ctx, ctl_account, job.id)
    go_offline(ctl_ctx, ctl_clock)
    other = register(ctl_ctx, ctl_account, 9002)
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    moved = transit_of(ctl_ctx, job.id)
    assert moved.host_id == other.host.id and moved.endpoint == "127.0.0.3:9002"


def test_running_jobs_of_an_offline_host_fail_with_a_hint(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any, edge: str,
) -> None:
    reg = register(ctl_ctx, ctl_account, 9001)
    syncing = started(ctl_ctx, ctl_account, ctl_source)
    dataplane.set_business_status(ctl_ctx, syncing.id, BusinessStatus.SYNCING)
    preparing = started(ctl_ctx, ctl_account, ctl_source)
    local = started(ctl_ctx, ctl_account, ctl_source, region="local")
    assert host_work.fail_stranded(ctl_ctx) == ()  # host online: nothing to do
    go_offline(ctl_ctx, ctl_clock)
    assert sorted(host_work.fail_stranded(ctl_ctx)) == sorted([syncing.id, preparing.id])
    failed = jobs.get_job(ctl_ctx, ctl_account.id, syncing.id)
    assert failed.status is JobStatus.IN_ERROR and failed.error_code == "Transit.HostOffline"
    assert "start the job to re-migrate" in failed.error_hint
    assert jobs.get_job(ctl_ctx, ctl_account.id, local.id).status is JobStatus.RUNNING
    assert host_work.fail_stranded(ctl_ctx) == ()  # already InError
    old = transit_of(ctl_ctx, syncing.id).id
    runs.start_job(ctl_ctx, ctl_account.id, syncing.id)
    assert transit_of(ctl_ctx, syncing.id).id != old
    th.heartbeat(ctl_ctx, reg.token)
    runs.start_job(ctl_ctx, ctl_account.id, preparing.id)  # host back: transit kept
    assert transit_of(ctl_ctx, preparing.id).host_id == reg.host.id


def build_on_host(ctx: ServiceContext, account: Any, make_source: Any,
                  host: th.TransitHost) -> tuple[JobId, str, str]:
    """A host job in Processing: (job id, transit id, the image id it publishes under)."""
    job = started(ctx, account, make_source)
    dataplane.set_business_status(ctx, job.id, BusinessStatus.SYNCING)
    host_work.sync_done(ctx, host, job.id, (DiskDigest(0, ""),))
    transit_id = transit_of(ctx, job.id).id
    (order,) = [b for b in host_work.work(ctx, host, []).build if b.transit_id == transit_id]
    return job.id, transit_id, order.plan.image_id


def test_deleted_host_images_are_deleted_by_the_host_never_others(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, edge: str,
) -> None:
    host = th.authenticate(ctl_ctx, register(ctl_ctx, ctl_account, 9001).token)
    other = th.authenticate(ctl_ctx, register(ctl_ctx, ctl_account, 9002).token)
    job_id, _, image_id = build_on_host(ctl_ctx, ctl_account, ctl_source, host)
    host_work.finish_build(ctl_ctx, host, job_id, manifest={"disks": []}, image_id=image_id,
                           verify_result="")
    stranger = "m-neverregistered0000"
    assert host_work.work(ctl_ctx, host, [], [image_id, stranger]).delete_images == ()
    images.delete_image(ctl_ctx, ctl_account.id, image_id)  # the server holds no files
    assert host_work.work(ctl_ctx, host, [], [image_id, stranger]).delete_images == (image_id,)
    assert host_work.work(ctl_ctx, other, [], [image_id]).delete_images == ()
    assert host_work.work(ctl_ctx, host, [], [stranger]).delete_images == ()


def test_an_image_published_but_not_registered_survives_a_work_poll(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, edge: str,
) -> None:
    host = th.authenticate(ctl_ctx, register(ctl_ctx, ctl_account, 9001).token)
    job_id, transit_id, image_id = build_on_host(ctl_ctx, ctl_account, ctl_source, host)
    # the host published `image_id` into its store; build-finished is not sent yet
    todo = host_work.work(ctl_ctx, host, [transit_id], [image_id])
    assert todo.delete_images == () and todo.release == ()
    registered = host_work.finish_build(ctl_ctx, host, job_id, manifest={"disks": []},
                                        image_id=image_id, verify_result="")
    assert host_work.work(ctl_ctx, host, [], [registered]).delete_images == ()
