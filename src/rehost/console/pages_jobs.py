"""迁移任务 / Jobs: paged table, live progress JSON, batch actions, and the job log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from rehost.console.errortext import error_text, localize_states
from rehost.console.filters import bad_filter, choice
from rehost.console.i18n import Translator
from rehost.console.pages_tags import NO_MATCH, tagged_ids
from rehost.console.views import event_view, job_hint, job_row
from rehost.console.web import ConsoleDeps, Form, redirect
from rehost.domain import adaptation
from rehost.domain.errors import NotFound, QuotaExceeded, RehostError
from rehost.domain.ids import PREFIX_JOB, AccountId, has_prefix
from rehost.domain.models import Job, JobEvent, Page, Region
from rehost.domain.states import JobStatus
from rehost.domain.tags import ResourceType
from rehost.services import jobs, regions, runs, tags
from rehost.services.context import ServiceContext

PAGE_SIZE = 20
POLL_MS = 3000


def adaptation_view(job: Job, region: Region, t: Translator) -> list[tuple[str, str, str]]:
    """(label, value, where it comes from) of the job's effective OS adaptation options."""
    got = adaptation.resolve(job.spec.adapt_guests, job.spec.keep_static_network,
                             region_adapt=region.adapt_guests,
                             region_keep=region.keep_static_network)

    def word(on: bool) -> str:
        return t("job.effective.on" if on else "job.effective.off")

    return [(t("job.adapt_guests"), word(got.adapt_guests), t("job.effective." + got.adapt_from)),
            (t("job.keep_static_network"), word(got.keep_static_network),
             t("job.effective." + got.keep_from))]


def _search(ctx: ServiceContext, account_id: AccountId, *, q: str, status: JobStatus | None,
            page: int, tagged: list[str] | None = None) -> Page[Job]:
    # like sources: anything that looks like an id is matched exactly, the rest by name;
    # tagged: the ids a tag filter allows (None: no tag filter)
    by_id = has_prefix(q, PREFIX_JOB)
    ids = tagged
    if by_id:
        ids = [q] if tagged is None or q in tagged else [NO_MATCH]
    return jobs.describe_jobs(ctx, account_id, status=status, job_ids=ids,
                              name=None if by_id else q or None, page_number=page,
                              page_size=PAGE_SIZE)


def quota_explanation(ctx: ServiceContext, account_id: AccountId, region_id: str,
                      t: Translator) -> str:
    """Explain a region's slot use after a start refused with QuotaExceeded.Vpc."""
    region = regions.get_region(ctx, account_id, region_id)
    return t("jobs.quota_explain", region=region.id, used=region.slots_in_use
             + region.reserved_slots, quota=region.network_quota, in_use=region.slots_in_use,
             reserved=region.reserved_slots)


def _refusal(job_id: str, exc: RehostError, t: Translator) -> tuple[str, str]:
    return ("error", f"{job_id}: {exc.code} — {error_text(exc, t)}")


def _start(ctx: ServiceContext, account_id: AccountId, job_ids: list[str],
           t: Translator) -> tuple[int, list[tuple[str, str]], set[str]]:
    done, messages, full = 0, [], set[str]()
    for result in runs.start_jobs(ctx, account_id, job_ids):
        if result.error is None:
            done += 1
            continue
        messages.append(_refusal(result.job_id, result.error, t))
        if isinstance(result.error, QuotaExceeded):
            full.add(jobs.get_job(ctx, account_id, result.job_id).region_id)
    return done, messages, full


def _each(ctx: ServiceContext, account_id: AccountId, action: str, job_ids: list[str],
          t: Translator) -> tuple[int, list[tuple[str, str]]]:
    done, messages = 0, []
    for job_id in job_ids:
        try:
            if action == "pause":
                runs.pause_job(ctx, account_id, job_id)
            else:
                jobs.delete_job(ctx, account_id, job_id)
            done += 1
        except RehostError as exc:
            messages.append(_refusal(job_id, exc, t))
    return done, messages


def error_message(job: Job, events: Sequence[JobEvent], t: Translator) -> str:
    """The job's error in the page's language: the Chinese text lives on its error event."""
    if t.locale != "zh-CN":
        return job.error_message
    for event in reversed(events):
        if event.code == job.error_code and event.message_zh:
            return localize_states(event.message_zh, t)
    key = f"event.{job.error_code}"
    return t(key) if t.has(key) else ""


def run_action(ctx: ServiceContext, account_id: AccountId, action: str, job_ids: list[str],
               t: Translator) -> list[tuple[str, str]]:
    """Apply an action to the selected jobs; return flash messages (done count + refusals)."""
    full: set[str] = set()
    if action == "start":
        done, messages, full = _start(ctx, account_id, job_ids, t)
    else:
        done, messages = _each(ctx, account_id, action, job_ids, t)
    messages += [("info", quota_explanation(ctx, account_id, r, t)) for r in sorted(full)]
    if done:
        messages.insert(0, ("ok", t(f"jobs.done.{action}", n=done)))
    return messages


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the job list, action, progress and log routes."""

    @router.get("/jobs", include_in_schema=False)
    def job_list(request: Request, status: str = "", page: int = 1, q: str = "",
                 tag: str = "") -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        t, q = deps.t(request), q.strip()
        ctx, account = deps.context(request), AccountId(session.account_id)
        chosen = choice(JobStatus, status)
        if chosen is False:
            return bad_filter(deps, request, session, name="status", value=status, back="/jobs",
                              allowed=[t(f"job.status.{s.value}")
                                       for s in JobStatus])
        result = _search(ctx, account, q=q, status=chosen, page=max(page, 1),
                         tagged=tagged_ids(ctx, account, ResourceType.JOB, tag))
        row_tags = tags.tags_of(ctx, account, ResourceType.JOB, [j.id for j in result.items])
        return deps.renderer.page(
            request, "jobs.html", session=session, section="/jobs", page=result,
            rows=[job_row(j, t) for j in result.items], statuses=[s.value for s in JobStatus],
            status_filter=status, q=q, query={"status": status, "q": q, "tag": tag},
            poll_ms=POLL_MS, tag=tag, row_tags=row_tags,
        )

    @router.get("/jobs/progress.json", include_in_schema=False)
    def job_progress(request: Request, ids: str = "") -> Response:
        session = deps.session(request)
        if session is None:
            return JSONResponse({"code": "Unauthenticated", "message": "log in"}, 401)
        t = deps.t(request)
        wanted = [i for i in ids.split(",") if i][:100]
        result = jobs.describe_jobs(deps.context(request), AccountId(session.account_id),
                                    job_ids=wanted, page_size=max(len(wanted), 1))
        return JSONResponse({
            "updated_at": datetime.now(UTC).isoformat(),
            "jobs": [job_row(j, t).as_json() for j in result.items],
        }, headers={"Cache-Control": "no-store"})

    @router.post("/jobs/actions", include_in_schema=False)
    def job_actions(request: Request, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        t = deps.t(request)
        action, job_ids = form.get("action"), form.getlist("job_id")
        if form.get("one"):
            action, _, single = form.get("one").partition(":")
            job_ids = [single]
        back = form.get("back", "/jobs")
        if action not in ("start", "pause", "delete") or not job_ids:
            return deps.renderer.flash(request, redirect(back), ("error", t("jobs.none_selected")))
        try:
            messages = run_action(deps.context(request), AccountId(session.account_id), action,
                                  job_ids, t)
        except RehostError as exc:
            messages = [("error", f"{exc.code} — {error_text(exc, t)}")]
        return deps.renderer.flash(request, redirect(back), *messages)

    @router.get("/jobs/{job_id}/log", include_in_schema=False)
    def job_log(request: Request, job_id: str) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        t, ctx, account_id = deps.t(request), deps.context(request), AccountId(session.account_id)
        try:
            job = jobs.get_job(ctx, account_id, job_id)
            events = jobs.list_events(ctx, account_id, job_id)
            region = regions.get_region(ctx, account_id, job.region_id)
        except NotFound as exc:
            return deps.renderer.page(request, "message.html", session=session, status_code=404,
                                      message=error_text(exc, t), back="/jobs")
        return deps.renderer.page(request, "job_log.html", session=session, section="/jobs",
                                  job=job, row=job_row(job, t),
                                  events=[event_view(e, t) for e in events],
                                  error_message=error_message(job, events, t),
                                  error_hint=job_hint(job, t),
                                  adaptation=adaptation_view(job, region, t))
