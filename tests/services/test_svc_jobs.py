"""Jobs through the services on SQLite and PostgreSQL: create rules, modify, delete, isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from rehost.db.tables import JobEventRow, JobRow
from rehost.domain.errors import Duplicate, InvalidParameter, InvalidStatus, NotFound
from rehost.domain.models import DataDiskSpec, ExecutionMode
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus, JobStatus, SourceState
from rehost.services import accounts, dataplane, jobs, regions, runs, sources
from rehost.services.context import ServiceContext


def _count_rows(ctx: ServiceContext, account_id: str) -> tuple[int, int]:
    with ctx.db.read() as s:
        n_jobs = s.scalar(select(func.count()).select_from(JobRow)
                          .where(JobRow.account_id == account_id))
        n_events = s.scalar(select(func.count()).select_from(JobEventRow)
                            .where(JobEventRow.account_id == account_id))
    return int(n_jobs or 0), int(n_events or 0)


def create(ctx: ServiceContext, account: Any, source_id: str, **fields: Any) -> Any:
    """Create a job in `local`."""
    return jobs.create_job(ctx, account.id, source_id=source_id, region_id="local",
                           request=JobRequest(**fields))


def test_create_describe(ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any) -> None:
    src = ctl_source(data=[(1, 20, 2)])
    job = create(ctl_ctx, ctl_account, src.source_id, name="web", compress_level=3)
    assert job.status is JobStatus.READY and job.spec.system_disk_size_gib == 10
    assert job.spec.data_disks == (DataDiskSpec(1, 20),)
    got = jobs.get_job(ctl_ctx, ctl_account.id, job.id)
    assert got == job
    page = jobs.describe_jobs(ctl_ctx, ctl_account.id, status=JobStatus.READY)
    assert [j.id for j in page.items] == [job.id] and page.total_count == 1
    assert jobs.describe_jobs(ctl_ctx, ctl_account.id, status=JobStatus.RUNNING).total_count == 0
    events = jobs.list_events(ctl_ctx, ctl_account.id, job.id)
    assert [e.message_en for e in events] == ["Migration job created."]


@pytest.mark.parametrize(("fields", "code"), [
    ({"name": "x"}, "InvalidParameter.Name"),
    ({"name": "bad name!"}, "InvalidParameter.Name"),
    ({"system_disk_size_gib": 3}, "InvalidParameter.SystemDiskSize"),
    ({"data_disks": (DataDiskSpec(5, 10),)}, "InvalidParameter.DataDisk.Index"),
    ({"mode": ExecutionMode.SCHEDULED}, "InvalidParameter.ScheduledStartTime"),
    ({"compress_level": 11}, "InvalidParameter.CompressLevel"),
])
def test_bad_create_is_not_half_created(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, fields: dict[str, Any], code: str
) -> None:
    src = ctl_source()
    before = _count_rows(ctl_ctx, ctl_account.id)
    with pytest.raises(InvalidParameter) as info:
        create(ctl_ctx, ctl_account, src.source_id, **fields)
    assert info.value.code == code
    assert _count_rows(ctl_ctx, ctl_account.id) == before


def test_unknown_and_foreign_ids(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    other = accounts.create_account(ctl_ctx, name="other-" + ctl_account.name, password="x" * 8)
    foreign = ctl_source(account_id=other.id)
    for source_id in ["s-nope", foreign.source_id]:
        with pytest.raises(NotFound) as info:
            create(ctl_ctx, ctl_account, source_id)
        assert info.value.code == "InvalidSourceServerId.NotFound"
    src = ctl_source()
    with pytest.raises(NotFound, match="region") as info:
        jobs.create_job(ctl_ctx, ctl_account.id, source_id=src.source_id, region_id="mars",
                        request=JobRequest())
    assert info.value.code == "InvalidRegionId.NotFound"
    theirs = create(ctl_ctx, other, foreign.source_id)
    for call in (jobs.get_job, jobs.delete_job, runs.start_job, runs.pause_job, jobs.list_events):
        with pytest.raises(NotFound) as info:
            call(ctl_ctx, ctl_account.id, theirs.id)
        assert info.value.code == "InvalidJobId.NotFound"
    with pytest.raises(NotFound):
        jobs.modify_job(ctl_ctx, ctl_account.id, theirs.id, JobRequest(name="mine"))
    assert jobs.describe_jobs(ctl_ctx, ctl_account.id).total_count == 0


def test_duplicates(ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any) -> None:
    a, b = ctl_source(), ctl_source()
    create(ctl_ctx, ctl_account, a.source_id, name="web", image_name="img-web")
    with pytest.raises(Duplicate) as info:
        create(ctl_ctx, ctl_account, b.source_id, name="web")
    assert info.value.code == "ReplicationJobName.Duplicate"
    with pytest.raises(Duplicate) as info:
        create(ctl_ctx, ctl_account, b.source_id, name="web2", image_name="img-web")
    assert info.value.code == "ImageName.UsedByReplicationJob"  # SMC: held by a job
    regions.create_region(ctl_ctx, ctl_account.id, region_id="dc-2")
    other_region = jobs.create_job(ctl_ctx, ctl_account.id, source_id=b.source_id,
                                   region_id="dc-2", request=JobRequest(name="web"))
    assert other_region.spec.name == "web"  # unique per region only


def test_one_unfinished_job_per_available_source(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    src = ctl_source()
    first = create(ctl_ctx, ctl_account, src.source_id)
    with pytest.raises(InvalidStatus) as info:
        create(ctl_ctx, ctl_account, src.source_id)
    assert info.value.code == "ReplicationJob.Related"
    jobs.delete_job(ctl_ctx, ctl_account.id, first.id)
    ctl_clock.advance(minutes=2)
    sources.mark_offline_sources(ctl_ctx)
    state = sources.get_source(ctl_ctx, ctl_account.id, src.source_id).state
    assert state is SourceState.UNAVAILABLE
    with pytest.raises(InvalidStatus) as info:
        create(ctl_ctx, ctl_account, src.source_id)
    assert info.value.code == "SourceServerState.Invalid"


def test_modify_rules(ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any) -> None:
    job = create(ctl_ctx, ctl_account, ctl_source().source_id, name="before")
    job = jobs.modify_job(ctl_ctx, ctl_account.id, job.id,
                          JobRequest(name="after", system_disk_size_gib=20, compress_level=5))
    assert (job.spec.name, job.spec.system_disk_size_gib, job.spec.compress_level) == (
        "after", 20, 5)
    with pytest.raises(InvalidParameter):
        jobs.modify_job(ctl_ctx, ctl_account.id, job.id, JobRequest(system_disk_size_gib=1))
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    with pytest.raises(InvalidStatus, match="already run"):
        jobs.modify_job(ctl_ctx, ctl_account.id, job.id, JobRequest(compress_level=1))
    renamed = jobs.modify_job(ctl_ctx, ctl_account.id, job.id,
                              JobRequest(name="renamed", description="while running"))
    assert renamed.spec.name == "renamed" and renamed.status is JobStatus.RUNNING
    dataplane.set_business_status(ctl_ctx, job.id, BusinessStatus.SYNCING)
    runs.pause_job(ctl_ctx, ctl_account.id, job.id)
    with pytest.raises(InvalidStatus):  # Stopped after a run: still only labels
        jobs.modify_job(ctl_ctx, ctl_account.id, job.id, JobRequest(checksum=True))


def test_delete_rules(ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any) -> None:
    job = create(ctl_ctx, ctl_account, ctl_source().source_id)
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    assert regions.get_region(ctl_ctx, ctl_account.id, "local").slots_in_use == 1
    with pytest.raises(InvalidStatus):
        jobs.delete_job(ctl_ctx, ctl_account.id, job.id)
    dataplane.fail_job(ctl_ctx, job.id, code="Agent.ReadError", message_en="read failed",
                       message_zh="读取失败", hint="check the disk")
    jobs.delete_job(ctl_ctx, ctl_account.id, job.id)
    assert regions.get_region(ctl_ctx, ctl_account.id, "local").slots_in_use == 0
    with pytest.raises(NotFound):
        jobs.get_job(ctl_ctx, ctl_account.id, job.id)


def test_immediate_mode_starts(ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any) -> None:
    job = create(ctl_ctx, ctl_account, ctl_source().source_id, mode=ExecutionMode.IMMEDIATE)
    assert job.status is JobStatus.RUNNING and job.business_status is BusinessStatus.PREPARING
    assert job.transit_id is not None


def test_scheduled_mode_validation_uses_clock(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    start = ctl_clock.now + timedelta(minutes=10)
    job = create(ctl_ctx, ctl_account, ctl_source().source_id, mode=ExecutionMode.SCHEDULED,
                 scheduled_start_time=start)
    assert job.spec.scheduled_start_time == start and job.status is JobStatus.READY
