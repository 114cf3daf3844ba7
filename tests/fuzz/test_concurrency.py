"""Races on the services (SQLite and PostgreSQL): no double allocation, no lost or extra rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from rehost.db.tables import JobRow, TransitSlotRow
from rehost.domain.errors import RehostError
from rehost.domain.rules import JobRequest
from rehost.services import jobs, regions, runs
from rehost.services.context import ServiceContext


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same moment in threads; each result is a value or the exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # collected and checked by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    unexpected = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, RehostError)]
    assert not unexpected, unexpected  # a database error here would be a 500 at the API
    return results


def _codes(results: list[Any]) -> list[str]:
    return sorted(r.code if isinstance(r, RehostError) else "ok" for r in results)


def _active_transits(ctx: ServiceContext, region_id: str) -> list[int]:
    with ctx.db.read() as session:
        return list(session.scalars(select(TransitSlotRow.slot).where(
            TransitSlotRow.region_id == region_id, TransitSlotRow.released_at.is_(None))))


def test_batch_starts_compete_for_the_last_slot(ctl_ctx: ServiceContext, ctl_account: Any,
                                                ctl_source: Any) -> None:
    region = regions.create_region(ctl_ctx, ctl_account.id, region_id="tight",
                                   network_quota=3, reserved_slots=1)
    made = [jobs.create_job(ctl_ctx, ctl_account.id, source_id=ctl_source().source_id,
                            region_id=region.id, request=JobRequest()).id for _ in range(6)]
    batches = [made[0:2], made[2:4], made[4:6]]
    results = race([lambda b=b: runs.start_jobs(ctl_ctx, ctl_account.id, b) for b in batches])
    outcomes = [r.error.code if r.error else "ok" for batch in results for r in batch]
    assert sorted(outcomes) == ["QuotaExceeded.Vpc"] * 4 + ["ok"] * 2
    slots = _active_transits(ctl_ctx, region.id)
    assert sorted(slots) == [1, 2]  # slot 0 is reserved outside rehost; no slot twice
    statuses = sorted(jobs.get_job(ctl_ctx, ctl_account.id, j).status for j in made)
    assert statuses == ["Ready"] * 4 + ["Running"] * 2  # refused jobs keep their status


def test_concurrent_creates_with_the_same_name(ctl_ctx: ServiceContext, ctl_account: Any,
                                               ctl_source: Any) -> None:
    sources = [ctl_source().source_id for _ in range(4)]
    results = race([lambda s=s: jobs.create_job(
        ctl_ctx, ctl_account.id, source_id=s, region_id="local",
        request=JobRequest(name="same-name", image_name=f"img-{s}")) for s in sources])
    assert _codes(results) == ["ReplicationJobName.Duplicate"] * 3 + ["ok"]
    with ctl_ctx.db.read() as session:
        named = session.scalar(select(func.count()).select_from(JobRow).where(
            JobRow.account_id == ctl_account.id, JobRow.name == "same-name"))
    assert named == 1


def test_concurrent_creates_on_one_source(ctl_ctx: ServiceContext, ctl_account: Any,
                                          ctl_source: Any) -> None:
    source_id = ctl_source().source_id
    results = race([lambda: jobs.create_job(ctl_ctx, ctl_account.id, source_id=source_id,
                                            region_id="local", request=JobRequest())
                    for _ in range(4)])
    assert _codes(results) == ["ReplicationJob.Related"] * 3 + ["ok"]


def test_delete_races_start(ctl_ctx: ServiceContext, ctl_account: Any,
                            ctl_source: Any) -> None:
    for _ in range(3):
        job_id = jobs.create_job(ctl_ctx, ctl_account.id, source_id=ctl_source().source_id,
                                 region_id="local", request=JobRequest()).id
        results = race([lambda j=job_id: runs.start_job(ctl_ctx, ctl_account.id, j),
                        lambda j=job_id: jobs.delete_job(ctl_ctx, ctl_account.id, j)])
        started, deleted = (not isinstance(r, Exception) for r in results)
        assert started != deleted, results  # exactly one wins
        live = jobs.describe_jobs(ctl_ctx, ctl_account.id, job_ids=[job_id]).total_count
        with ctl_ctx.db.read() as session:
            held = session.scalars(select(TransitSlotRow.id).where(
                TransitSlotRow.job_id == job_id, TransitSlotRow.released_at.is_(None))).all()
        assert (live, len(held)) == ((1, 1) if started else (0, 0))  # no orphan slot
        if started:
            ctl_ctx.transit_pool.disconnect(job_id=job_id)
