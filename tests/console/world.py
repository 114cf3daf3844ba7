"""Real data for page tests: a source, jobs in several states, an error event, an image."""

from __future__ import annotations

from dataclasses import dataclass

from console.conftest import import_source
from rehost.domain.ids import AccountId, JobId
from rehost.domain.models import DiskProgress
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus
from rehost.services import dataplane, jobs, runs, sources
from rehost.services.context import ServiceContext

GIB = 1024**3
MANIFEST = {
    "disks": [{"index": 0, "size_bytes": 40 * GIB, "format": "raw"},
              {"index": 1, "size_bytes": 100 * GIB, "format": "raw"}],
    "checks": ["fstab: pass: every fstab entry resolves", "kernel: warn: no initramfs found"],
}


@dataclass(frozen=True)
class World:
    """Ids of what the pages show, and the English texts the domain produced for them."""

    source_id: str
    job_ids: tuple[str, ...]
    image_id: str
    domain_english: tuple[str, ...]


def _job(ctx: ServiceContext, account: AccountId, host: str) -> str:
    source = import_source(ctx, account, host)
    return jobs.create_job(ctx, account, source_id=source, region_id="local",
                           request=JobRequest(name=f"job-{host}")).id


def build_world(ctx: ServiceContext, account: AccountId) -> World:
    ready, syncing, stopped, failed, done = (
        _job(ctx, account, h) for h in ("web-01", "web-02", "web-03", "web-04", "web-05"))
    for job_id in (syncing, stopped, failed, done):
        runs.start_job(ctx, account, job_id)
    dataplane.set_business_status(ctx, JobId(syncing), BusinessStatus.SYNCING)
    dataplane.update_progress(ctx, JobId(syncing), [
        DiskProgress(0, 10 * GIB, 3 * GIB, 1024**2, 7 * 1024), DiskProgress(1, 5 * GIB, 0)])
    dataplane.set_business_status(ctx, JobId(stopped), BusinessStatus.SYNCING)
    runs.pause_job(ctx, account, stopped)
    dataplane.fail_job(ctx, JobId(failed), code=sources.OFFLINE_CODE,
                       message_en=sources.OFFLINE_EN, message_zh=sources.OFFLINE_ZH,
                       hint=sources.OFFLINE_HINT, hint_zh=sources.OFFLINE_HINT_ZH)
    image = dataplane.finish_job(ctx, JobId(done), manifest=MANIFEST, verify_result="passed")
    english = (sources.OFFLINE_EN, sources.OFFLINE_HINT)
    return World(jobs.get_job(ctx, account, ready).source_id,
                 (ready, syncing, stopped, failed, done), image.id, english)
