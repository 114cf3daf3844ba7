"""标签 / Tags of a job or a source: show, add (key=value), remove; the lists filter by tag."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.console.session import Session
from rehost.console.web import ConsoleDeps, Form, redirect
from rehost.domain import errors
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId
from rehost.domain.tags import ResourceType, Tag
from rehost.services import jobs, sources, tags
from rehost.services.context import ServiceContext

NO_MATCH: Final = "-"  # an id no resource has: a filter that matched nothing
KINDS: Final = {"job": ResourceType.JOB, "source": ResourceType.SOURCE}


def _kind(kind: str) -> ResourceType:
    found = KINDS.get(kind)
    if found is None:
        raise errors.invalid("ResourceType", f"{kind!r} has no tags here; use job or source.",
                             f"{kind!r} 没有标签；请使用 job 或 source。")
    return found


def _name(deps: ConsoleDeps, request: Request, session: Session, rtype: ResourceType,
          resource_id: str) -> str:
    ctx, account = deps.context(request), AccountId(session.account_id)
    if rtype is ResourceType.JOB:
        return jobs.get_job(ctx, account, resource_id).spec.name
    return sources.get_source(ctx, account, resource_id).name


def tagged_ids(ctx: ServiceContext, account_id: AccountId, rtype: ResourceType,
               value: str) -> list[str] | None:
    """Ids carrying the list filter's tag (`key` or `key=value`); None: no filter."""
    key, _, wanted = value.strip().partition("=")
    if not key.strip():
        return None
    return sorted(tags.matching(ctx, account_id, rtype, [Tag(key.strip(), wanted.strip())])) \
        or [NO_MATCH]


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the tag page and its two actions."""

    @router.get("/tags/{kind}/{resource_id}", include_in_schema=False)
    def tag_page(request: Request, kind: str, resource_id: str) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        try:
            rtype = _kind(kind)
            name = _name(deps, request, session, rtype, resource_id)
        except RehostError as exc:
            message = f"{exc.code}: {exc.localized(deps.t(request).locale)}"
            return deps.renderer.page(request, "message.html", session=session, status_code=404,
                                      message=message)
        found = tags.tags_of(deps.context(request), AccountId(session.account_id), rtype,
                             [resource_id])[resource_id]
        return deps.renderer.page(request, "tags.html", session=session,
                                  section="/jobs" if kind == "job" else "/sources", kind=kind,
                                  resource_id=resource_id, name=name, tags=found)

    @router.post("/tags/{kind}/{resource_id}", include_in_schema=False)
    def tag_add(request: Request, kind: str, resource_id: str, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        here, t = f"/tags/{kind}/{resource_id}", deps.t(request)
        try:
            tags.tag_resources(deps.context(request), AccountId(session.account_id),
                               _kind(kind), [resource_id],
                               [Tag(form.get("key"), form.get("value"))])
        except RehostError as exc:
            return deps.renderer.flash(request, redirect(here),
                                       ("error", f"{exc.code}: {exc.localized(t.locale)}"))
        return deps.renderer.flash(request, redirect(here),
                                   ("ok", t("tags.added", tag=form.get("key"))))

    @router.post("/tags/{kind}/{resource_id}/remove", include_in_schema=False)
    def tag_remove(request: Request, kind: str, resource_id: str, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        here, t = f"/tags/{kind}/{resource_id}", deps.t(request)
        try:
            tags.untag_resources(deps.context(request), AccountId(session.account_id),
                                 _kind(kind), [resource_id], [form.get("key")], all_=False)
        except RehostError as exc:
            return deps.renderer.flash(request, redirect(here),
                                       ("error", f"{exc.code}: {exc.localized(t.locale)}"))
        return deps.renderer.flash(request, redirect(here),
                                   ("ok", t("tags.removed", tag=form.get("key"))))
