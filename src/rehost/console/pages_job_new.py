"""新建迁移任务 / Create job: the form, its defaults from the source, and errors beside fields."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.console.errortext import error_text
from rehost.console.formcheck import field_errors
from rehost.console.i18n import Translator
from rehost.console.jobform import (
    ADVANCED_FIELDS,
    OVERRIDE_CHOICES,
    Parsed,
    data_disk_rows,
    disk_row,
    field_for_code,
    first_error,
    is_incremental,
    parse_form,
)
from rehost.console.session import Session
from rehost.console.web import ConsoleDeps, Form, FormFields, redirect
from rehost.domain import incremental, rules
from rehost.domain.errors import NotFound, RehostError
from rehost.domain.ids import AccountId
from rehost.domain.models import DiskLimits, ExecutionMode, Override, Region, Source
from rehost.services import jobs, regions, sources

CYCLE_LIMITS: Final = {
    "freq_min": incremental.FREQUENCY_MIN_H, "freq_max": incremental.FREQUENCY_MAX_H,
    "keep_min": incremental.KEEP_MIN, "keep_max": incremental.KEEP_MAX,
    "keep_default": incremental.KEEP_DEFAULT,
}

# the form's fields as shown again: text inputs (None: left out) and the checksum box
FormValues = dict[str, str | bool | None]

def _defaults(source: Source, region: Region | None) -> FormValues:
    disk = source.system_disk
    return {
        "region_id": region.id if region else "", "name": "", "description": "",
        "system_disk_size": str(rules.default_disk_size_gib(disk)) if disk else "",
        "image_name": "", "mode": ExecutionMode.CREATE_ONLY.value, "scheduled_start_time": "",
        "tz_offset_min": "0", "bandwidth_limit": "0", "compress_level": str(rules.COMPRESS_MIN),
        "checksum": False, "run_once": "true", "frequency": "",
        "max_images_to_keep": str(incremental.KEEP_DEFAULT),
        "adapt_guests": Override.REGION.value, "keep_static_network": Override.REGION.value,
    }


def _submitted(form: FormFields) -> FormValues:
    keys = ("region_id", "name", "description", "system_disk_size", "image_name", "mode",
            "scheduled_start_time", "tz_offset_min", "bandwidth_limit", "compress_level",
            "frequency", "max_images_to_keep", "adapt_guests", "keep_static_network")
    values: FormValues = {k: form.get(k) for k in keys}
    values["checksum"] = form.has("checksum")
    values["run_once"] = "false" if is_incremental(form) else "true"
    return values


def _system_disk(source: Source, limits: DiskLimits) -> Any:
    disk = source.system_disk
    if disk is None:
        return {"size": "—", "used": "—", "min_gib": limits.system_min_gib,
                "max_gib": limits.system_max_gib, "note": ""}
    row = disk_row(disk, low=limits.system_min_gib, high=limits.system_max_gib, value="",
                   enabled=True)
    return {"size": row.size, "used": row.used, "min_gib": row.min_gib, "max_gib": row.max_gib,
            "note": disk.shrink_note}


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the create-job routes."""

    def render(request: Request, session: Session, source: Source, *, values: FormValues,
               form: FormFields | None, errors: dict[str, str], status_code: int = 200,
               ) -> Response:
        region_list = regions.list_regions(deps.context(request), AccountId(session.account_id))
        chosen = next((r for r in region_list if r.id == values["region_id"]), None)
        limits = (chosen or (region_list[0] if region_list else None))
        disk_limits = limits.limits if limits else DiskLimits()
        return deps.renderer.page(
            request, "job_new.html", session=session, section="/jobs", status_code=status_code,
            source=source, regions=region_list, form=values, errors=errors,
            first_error=first_error(errors), advanced_open=bool(ADVANCED_FIELDS & set(errors)),
            system_disk=_system_disk(source, disk_limits),
            data_disks=data_disk_rows(source, disk_limits, form), cycle_limits=CYCLE_LIMITS,
            override_choices=OVERRIDE_CHOICES,
        )

    def all_errors(request: Request, session: Session, source: Source, parsed: Parsed,
                   t: Translator) -> dict[str, str]:
        ctx = deps.context(request)
        region_list = regions.list_regions(ctx, AccountId(session.account_id))
        chosen = next((r for r in region_list if r.id == parsed.region_id), None)
        checked = field_errors(parsed.request, source=source, now=ctx.now(), t=t,
                               limits=chosen.limits if chosen else DiskLimits(),
                               region_adapts=chosen.adapt_guests if chosen else False)
        return {**checked, **parsed.errors}  # a field that did not parse keeps that error

    def load_source(request: Request, session: Session, source_id: str) -> Source | Response:
        try:
            ctx = deps.context(request)
            return sources.get_source(ctx, AccountId(session.account_id), source_id)
        except NotFound as exc:
            return deps.renderer.page(request, "message.html", session=session, status_code=404,
                                      message=error_text(exc, deps.t(request)))

    @router.get("/jobs/new", include_in_schema=False)
    def new_job(request: Request, source_id: str = "") -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        source = load_source(request, session, source_id)
        if isinstance(source, Response):
            return source
        region_list = regions.list_regions(deps.context(request), AccountId(session.account_id))
        values = _defaults(source, region_list[0] if region_list else None)
        return render(request, session, source, values=values, form=None, errors={})

    @router.post("/jobs/new", include_in_schema=False)
    def create_job(request: Request, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        t = deps.t(request)
        source = load_source(request, session, form.get("source_id"))
        if isinstance(source, Response):
            return source
        parsed: Parsed = parse_form(form, source, t)
        errors = all_errors(request, session, source, parsed, t)
        if not errors:
            try:
                job = jobs.create_job(deps.context(request), AccountId(session.account_id),
                                      source_id=source.id, region_id=form.get("region_id"),
                                      request=parsed.request)
            except RehostError as exc:
                errors[field_for_code(exc.code)] = f"{error_text(exc, t)} ({exc.code})"
            else:
                created = ("ok", t("job.created", id=job.id))
                return deps.renderer.flash(request, redirect("/jobs"), created)
        return render(request, session, source, values=_submitted(form), form=form,
                      errors=errors, status_code=400)
