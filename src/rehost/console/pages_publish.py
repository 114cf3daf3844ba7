"""The images page's publish action: a form posting one image to its region's target."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.console.web import ConsoleDeps, Form, redirect
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId
from rehost.services import publish


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add POST /images/{image_id}/publish (blocks until published, then back to /images)."""

    @router.post("/images/{image_id}/publish", include_in_schema=False)
    def publish_action(request: Request, image_id: str, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        t, back = deps.t(request), redirect(f"/images#{image_id}")
        try:
            done = publish.publish_image(deps.context(request), AccountId(session.account_id),
                                         image_id, target=str(form.get("target", "")))
        except RehostError as exc:
            return deps.renderer.flash(request, back,
                                       ("error", f"{exc.code} — {exc.localized(t.locale)}"))
        return deps.renderer.flash(request, back, ("ok", t(
            "images.published", image=image_id, target=done.target)))
