"""Shape domain values into what the console templates and the progress JSON show."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final

from markupsafe import Markup, escape

from rehost.console.errortext import pick_text
from rehost.console.formatting import fmt_bytes, fmt_duration, fmt_rate, fmt_time
from rehost.console.i18n import Translator
from rehost.domain.errors import InvalidStatus
from rehost.domain.models import EventLevel, Image, Job, JobEvent, Region
from rehost.domain.states import JobAction, JobStatus, next_job_status

_STATUS_TONES = {
    JobStatus.READY: "idle", JobStatus.RUNNING: "run", JobStatus.STOPPED: "warn",
    JobStatus.IN_ERROR: "err", JobStatus.FINISHED: "ok", JobStatus.WAITING: "wait",
    JobStatus.EXPIRED: "idle", JobStatus.DELETING: "idle",
}
LIVE_STATUSES = frozenset({JobStatus.RUNNING, JobStatus.WAITING, JobStatus.DELETING})


@dataclass(frozen=True, slots=True)
class JobTableRow:
    """One row of the jobs table; also the payload of the live progress JSON."""

    job_id: str
    name: str
    source_id: str
    region_id: str
    status: str
    status_label: str
    status_tone: str
    business_label: str
    percent: float | None
    percent_text: str
    bytes_text: str
    rate_text: str
    eta_text: str
    result_html: Markup
    live: bool
    has_run: bool
    can_start: bool
    can_pause: bool
    incremental: bool
    cycle_text: str
    next_cycle_text: str
    created_text: str

    def as_json(self) -> dict[str, str | bool | float | None]:
        """The fields the browser's progress poller applies."""
        data: dict[str, str | bool | float | None] = asdict(self)
        data["result_html"] = str(self.result_html)
        return data


EVENT_TONES: Final = {EventLevel.ERROR: "err", EventLevel.WARNING: "warn", EventLevel.INFO: "idle"}


@dataclass(frozen=True, slots=True)
class EventView:
    """One job-log line in the page's language; only an error-level code is shown in red."""

    time: datetime
    level: str
    tone: str
    level_label: str
    code: str
    code_label: str
    message: str
    hint: str


def event_view(event: JobEvent, t: Translator) -> EventView:
    """Shape a job event: level, translated code label, message and hint in one language."""
    key = f"event.{event.code}"
    return EventView(
        time=event.time, level=event.level.value, tone=EVENT_TONES.get(event.level, "idle"),
        level_label=t(f"log.level.{event.level.value}"), code=event.code,
        code_label=t(key) if event.code and t.has(key) else "",
        message=pick_text(event.message_en, event.message_zh, t),
        hint=pick_text(event.hint, event.hint_zh, t),
    )


def job_hint(job: Job, t: Translator) -> str:
    """The failed job's fix hint in the page's language ("" when it has none in it)."""
    return pick_text(job.error_hint, job.error_hint_zh, t)


def _result_html(job: Job, t: Translator) -> Markup:
    if job.image_id:
        label = t("jobs.result.image", id=job.image_id)
        return Markup('<a href="/images#{0}">{1}</a>').format(job.image_id, label)
    if job.error_code:
        return Markup('<a class="code" href="/jobs/{0}/log" title="{2}">{1}</a>').format(
            job.id, job.error_code, job_hint(job, t))
    return Markup("—")


def cycle_texts(job: Job, t: Translator) -> tuple[str, str]:
    """An incremental job's cycle ("第 2 轮") and next cycle time; empty for one-time jobs."""
    if job.spec.run_once:
        return "", ""
    cycle = t("jobs.cycle", n=job.cycle) if job.cycle else t("jobs.cycle_none")
    due = ""
    if job.next_cycle_at:
        due = t("jobs.next_cycle", time=fmt_time(job.next_cycle_at, t.zone))
    return cycle, due


def allows(job: Job, action: JobAction) -> bool:
    """Ask the domain's transition table whether ``action`` is possible now."""
    try:
        next_job_status(job.status, action, job.business_status)
    except InvalidStatus:
        return False
    return True


def job_row(job: Job, t: Translator) -> JobTableRow:
    """Build the table row: labels, tone, and progress only from the job's real fields."""
    progress = job.progress
    total, done = progress.bytes_total, progress.bytes_done
    percent = progress.percent if total else None
    running = job.status is JobStatus.RUNNING
    rate = sum(d.rate_bytes_per_s for d in progress.disks) if running else 0.0
    etas = [d.eta_s for d in progress.disks if d.eta_s is not None]
    business = job.business_status.value
    cycle_text, next_cycle_text = cycle_texts(job, t)
    return JobTableRow(
        job_id=job.id, name=job.spec.name, source_id=job.source_id, region_id=job.region_id,
        status=job.status.value, status_label=t(f"job.status.{job.status.value}"),
        status_tone=_STATUS_TONES.get(job.status, "idle"),
        business_label=t(f"job.business.{business}") if running and business else "",
        percent=percent,
        percent_text=f"{percent:.1f}%" if percent is not None else t("jobs.no_progress"),
        bytes_text=f"{fmt_bytes(done)} / {fmt_bytes(total)}" if total else "",
        rate_text=fmt_rate(rate),
        eta_text=fmt_duration(max(etas), t) if running and etas else "—",
        result_html=_result_html(job, t),
        live=job.status in LIVE_STATUSES, has_run=job.has_run,
        can_start=allows(job, JobAction.START), can_pause=allows(job, JobAction.PAUSE),
        incremental=not job.spec.run_once, cycle_text=cycle_text, next_cycle_text=next_cycle_text,
        created_text=fmt_time(job.created_at, t.zone),
    )


@dataclass(frozen=True, slots=True)
class ImageDiskView:
    """One disk of an image, as listed on the images page."""

    index: int
    size: str
    format: str


@dataclass(frozen=True, slots=True)
class CheckView:
    """One post-migration check of an image's manifest: level (pass/warn/fail/info) and text."""

    level: str
    text: str


_CHECK_LEVEL = re.compile(r":\s*(pass|warn|fail):\s")
CHECK_TONES: Final = {"pass": "ok", "warn": "warn", "fail": "err", "info": "idle"}


def manifest_checks(manifest: Mapping[str, object]) -> tuple[CheckView, ...]:
    """The image builder's check lines (`name: level: text`, or a plain step line)."""
    lines = manifest.get("checks")
    if not isinstance(lines, list):
        return ()
    views = []
    for line in (str(x) for x in lines):
        match = _CHECK_LEVEL.search(line)
        views.append(CheckView(match.group(1) if match else "info", line))
    return tuple(views)


@dataclass(frozen=True, slots=True)
class ImageView:
    """An image row: disks, total size and verification badge."""

    id: str
    name: str
    region_id: str
    job_id: str
    source_id: str
    disks: tuple[ImageDiskView, ...]
    total: str
    verify_label: str
    verify_tone: str
    created_at: Any
    checks: tuple[CheckView, ...]

    def check_count(self, level: str) -> int:
        """How many checks ended with ``level``."""
        return sum(1 for c in self.checks if c.level == level)


def _manifest_disks(manifest: Mapping[str, object]) -> tuple[ImageDiskView, ...]:
    disks = manifest.get("disks")
    if not isinstance(disks, list):
        return ()
    views = []
    for pos, disk in enumerate(d for d in disks if isinstance(d, dict)):
        size = disk.get("size_bytes")
        views.append(ImageDiskView(
            index=int(disk.get("index", pos)),
            size=fmt_bytes(size) if isinstance(size, int) else "—",
            format=str(disk.get("format", "")),
        ))
    return tuple(views)


def _verify(result: str, t: Translator) -> tuple[str, str]:
    lowered = result.lower()
    if lowered in ("passed", "pass", "ok", "success", "verified"):
        return t("images.verify.passed"), "ok"
    if lowered in ("", "none", "skipped", "not-run", "pending"):
        return t("images.verify.none"), "idle"
    if lowered.startswith(("fail", "error")):
        return t("images.verify.failed"), "err"
    return result, "warn"


def image_view(image: Image, t: Translator, *, verifying: bool = False) -> ImageView:
    """Build an image row from its manifest."""
    disks = _manifest_disks(image.manifest)
    total_bytes = sum(
        d.get("size_bytes", 0) for d in image.manifest.get("disks", [])
        if isinstance(d, dict) and isinstance(d.get("size_bytes"), int)
    ) if isinstance(image.manifest.get("disks"), list) else 0
    label, tone = (t("images.verify.running"), "run") if verifying else _verify(
        image.verify_result, t)
    return ImageView(
        id=image.id, name=image.name, region_id=image.region_id, job_id=image.job_id or "",
        source_id=image.source_id or "", disks=disks,
        total=fmt_bytes(total_bytes) if total_bytes else "—",
        verify_label=label, verify_tone=tone, created_at=image.created_at,
        checks=manifest_checks(image.manifest),
    )


@dataclass(frozen=True, slots=True)
class RegionView:
    """A region with its slot use: used = running transits + slots reserved outside rehost."""

    id: str
    name: str
    quota: int
    in_use: int
    reserved: int
    used: int
    free: int
    percent: int
    limits: Any
    store: str


def region_view(region: Region) -> RegionView:
    """Build the regions-page row."""
    used = region.slots_in_use + region.reserved_slots
    quota = max(region.network_quota, 1)
    return RegionView(
        id=region.id, name=region.name, quota=region.network_quota, in_use=region.slots_in_use,
        reserved=region.reserved_slots, used=used, free=max(0, region.network_quota - used),
        percent=min(100, round(100 * used / quota)), limits=region.limits,
        store=region.image_store_path,
    )


def escape_text(text: str) -> Markup:
    """Escape user text for places that build Markup by hand."""
    return escape(text)
