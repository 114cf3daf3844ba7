"""Image actions on the images page: delete, verify (a QEMU boot) and disk download.

The publish area adds its publish action beside these (see templates/images.html).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import FileResponse, Response

from rehost.console.errortext import error_text
from rehost.console.web import ConsoleDeps, Form, redirect
from rehost.domain.errors import NotFound, RehostError
from rehost.domain.ids import AccountId
from rehost.services import image_files, image_verify, images
from rehost.services.context import ServiceContext

log = logging.getLogger(__name__)


def _verify(ctx: ServiceContext, account_id: AccountId, image_id: str) -> None:
    # the result lands on the image (its badge) and in its job's log; a refusal only here
    try:
        image_verify.verify_image(ctx, account_id, image_id)
    except RehostError as exc:
        log.warning("console verification of %s refused: %s", image_id, exc)


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the image action routes."""

    def refused(request: Request, back: Response, exc: RehostError) -> Response:
        message = f"{exc.code}: {error_text(exc, deps.t(request))}"
        return deps.renderer.flash(request, back, ("error", message))

    @router.post("/images/{image_id}/delete", include_in_schema=False)
    def image_delete(request: Request, image_id: str, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        t, back = deps.t(request), redirect("/images")
        try:
            images.delete_image(deps.context(request), AccountId(session.account_id), image_id)
        except RehostError as exc:
            return refused(request, back, exc)
        return deps.renderer.flash(request, back, ("ok", t("images.deleted", id=image_id)))

    @router.post("/images/{image_id}/verify", include_in_schema=False)
    def image_verify_start(request: Request, image_id: str, form: Form,
                           tasks: BackgroundTasks) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        t, ctx, account_id = deps.t(request), deps.context(request), AccountId(session.account_id)
        back = redirect(f"/images#{image_id}")
        try:
            images.get_image(ctx, account_id, image_id)  # refuse an unknown id now, not later
        except RehostError as exc:
            return refused(request, back, exc)
        if image_verify.is_verifying(ctx, account_id, image_id):
            busy = ("error", t("images.verify.busy", id=image_id))
            return deps.renderer.flash(request, back, busy)
        tasks.add_task(_verify, ctx, account_id, image_id)
        started = ("info", t("images.verify.started", id=image_id))
        return deps.renderer.flash(request, back, started)

    @router.get("/images/{image_id}/disks/{index}", include_in_schema=False)
    def image_download(request: Request, image_id: str, index: int) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        try:
            disk = image_files.disk_file(deps.context(request), AccountId(session.account_id),
                                         image_id, index)
        except RehostError as exc:
            return deps.renderer.page(request, "message.html", session=session, back="/images",
                                      status_code=404 if isinstance(exc, NotFound) else 400,
                                      message=error_text(exc, deps.t(request)))
        # Range requests resume a broken download (Starlette's FileResponse answers them)
        return FileResponse(disk.path, media_type="application/octet-stream",
                            filename=f"{image_id}-{disk.path.name}")
