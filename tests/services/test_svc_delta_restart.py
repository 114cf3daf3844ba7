"""Starting a one-time job again after a failed check is a delta pass (cycle 2); other
failures resume the same pass."""

from __future__ import annotations

from typing import Any

import pytest

from rehost.domain.rules import JobRequest
from rehost.services import agents, dataplane, jobs, lookup, runs
from rehost.services.context import ServiceContext


def _failed_job(ctx: ServiceContext, account: Any, source: Any, code: str) -> tuple[str, str]:
    src = source()
    job = jobs.create_job(ctx, account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest())
    runs.start_job(ctx, account.id, job.id)
    with ctx.db.transaction() as session:
        row = lookup.active_transit(session, job.id)
        assert row is not None
        row.endpoint = "127.0.0.1:7100"
    assert agents.poll_work(ctx, src.agent_token).cycle == 0  # the first pass: no delta
    dataplane.fail_job(ctx, job.id, code=code, message_en="failed", message_zh="失败")
    return job.id, src.agent_token


@pytest.mark.parametrize(("code", "cycle", "delta"), [
    ("Check.Kernel", 2, True), ("Check.Bootloader", 2, True), ("Adapt.Failed", 2, True),
    ("Transit.DiskFull", 1, False), ("Agent.ReadError", 1, False)])
def test_restart_after_a_failed_check_reads_the_source_again_as_a_delta_pass(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, code: str, cycle: int,
    delta: bool,
) -> None:
    job_id, token = _failed_job(ctl_ctx, ctl_account, ctl_source, code)
    started = runs.start_job(ctl_ctx, ctl_account.id, job_id)
    assert started.cycle == cycle and started.run_count == 2
    assert agents.poll_work(ctl_ctx, token).cycle == (cycle if delta else 0)
    codes = [e.code for e in jobs.list_events(ctl_ctx, ctl_account.id, job_id)]
    assert ("ReplicationJob.DeltaPass" in codes) is delta
    if delta:
        line = next(e for e in jobs.list_events(ctl_ctx, ctl_account.id, job_id)
                    if e.code == "ReplicationJob.DeltaPass")
        assert code in line.message_en and "重新读取迁移源" in line.message_zh
