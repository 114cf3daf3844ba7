"""地域 / Regions: create and modify pages (the list is in pages_catalog)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.console import regionform
from rehost.console.errortext import error_text
from rehost.console.session import Session
from rehost.console.web import ConsoleDeps, Form, redirect
from rehost.domain.errors import NotFound, RehostError
from rehost.domain.ids import AccountId
from rehost.services import regions


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the region form routes."""

    def render(request: Request, session: Session, *, values: dict[str, str | bool],
               errors: dict[str, str], editing: str = "", status_code: int = 200) -> Response:
        return deps.renderer.page(
            request, "region_form.html", session=session, section="/regions", form=values,
            errors=errors, editing=editing, formats=regions.IMAGE_FORMATS,
            first_error=next(iter(errors), ""), status_code=status_code)

    def save(request: Request, session: Session, form: regionform.RegionForm,
             region_id: str, editing: bool) -> None:
        ctx, account_id = deps.context(request), AccountId(session.account_id)
        quota, reserved = form.numbers["network_quota"], form.numbers["reserved_slots"]
        verify, accept, adapt = (form.flag(f) for f in regionform.FLAGS)
        if editing:
            regions.modify_region(
                ctx, account_id, region_id, name=form.text("name"), network_quota=quota,
                reserved_slots=reserved, limits=form.limits, verify_after_migration=verify,
                accept_failed_checks=accept, adapt_guests=adapt)
            return
        regions.create_region(
            ctx, account_id, region_id=region_id, name=form.text("name"),
            image_store_path=form.text("image_store_path"), network_quota=quota,
            reserved_slots=reserved, limits=form.limits, verify_after_migration=verify,
            image_format=form.text("image_format"), accept_failed_checks=accept,
            adapt_guests=adapt)

    def submit(request: Request, session: Session, fields: Form, editing: str) -> Response:
        t = deps.t(request)
        parsed, errors = regionform.parse(fields, t)
        region_id = editing or parsed.text("region_id")
        errors = regionform.check(parsed, region_id=region_id, errors=errors, t=t)
        if not errors:
            try:
                save(request, session, parsed, region_id, bool(editing))
            except RehostError as exc:
                errors[regionform.field_of(exc)] = f"{error_text(exc, t)} ({exc.code})"
            else:
                done = t("regions.modified" if editing else "regions.created", id=region_id)
                return deps.renderer.flash(request, redirect("/regions"), ("ok", done))
        values = {**parsed.values, "region_id": region_id} if editing else parsed.values
        return render(request, session, values=values, errors=errors, editing=editing,
                      status_code=400)

    @router.get("/regions/new", include_in_schema=False)
    def region_new(request: Request) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        return render(request, session, values=regionform.defaults(None), errors={})

    @router.post("/regions/new", include_in_schema=False)
    def region_create(request: Request, form: Form) -> Response:
        session = deps.guard_post(request, form)
        return session if isinstance(session, Response) else submit(request, session, form, "")

    @router.get("/regions/{region_id}/edit", include_in_schema=False)
    def region_edit(request: Request, region_id: str) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        try:
            region = regions.get_region(deps.context(request), AccountId(session.account_id),
                                        region_id)
        except NotFound as exc:
            return deps.renderer.page(request, "message.html", session=session, status_code=404,
                                      back="/regions", message=error_text(exc, deps.t(request)))
        return render(request, session, values=regionform.defaults(region), errors={},
                      editing=region.id)

    @router.post("/regions/{region_id}/edit", include_in_schema=False)
    def region_modify(request: Request, region_id: str, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        return submit(request, session, form, region_id)
