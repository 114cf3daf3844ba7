"""CutOverReplicationJob: end an incremental job, with (SyncData) or without a last cycle."""

from __future__ import annotations

from rehost.domain import jobs
from rehost.domain.ids import AccountId, JobId
from rehost.domain.models import EventLevel, Job
from rehost.services import events, lifecycle, lookup, runs, transits
from rehost.services.context import ServiceContext


def cut_over(ctx: ServiceContext, account_id: AccountId, job_id: str, *, sync_data: bool) -> Job:
    """Waiting incremental job → one last delta cycle then Finished, or Finished at once.

    Without SyncData the image of the last cycle (built from what was last synced) is final.
    """
    if sync_data:
        return runs.start_job(ctx, account_id, JobId(job_id), cutover=True)
    now = ctx.now()
    with ctx.db.transaction() as session:
        row = lookup.job_row(session, account_id, job_id, lock=True)
        lifecycle.apply(session, row, lambda job: jobs.cut_over(job, now=now))
        released = transits.release(session, row.id, now=now)
        events.add(session, job_id=row.id, account_id=row.account_id, now=now,
                   level=EventLevel.INFO, code="ReplicationJob.CutOver",
                   message_en=f"Cut over without a last sync: image {row.image_id} is final.",
                   message_zh=f"已切换（未再同步）：镜像 {row.image_id} 为最终镜像。")
    transits.close_receiver(ctx, released)
    with ctx.db.read() as session:
        return lookup.read_job(session, account_id, job_id)
