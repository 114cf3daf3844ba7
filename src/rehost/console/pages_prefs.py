"""偏好设置 / Preferences: the time zone the pages show times in (a cookie, like the language)."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.console.formatting import available_zones, known_zone
from rehost.console.i18n import TZ_COOKIE
from rehost.console.session import Session
from rehost.console.web import ConsoleDeps, Form, redirect, safe_next

YEAR_S: Final = 365 * 86400


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the preferences page and its form."""

    def render(request: Request, session: Session, *, zone: str, back: str, error: str = "",
               status_code: int = 200) -> Response:
        return deps.renderer.page(request, "preferences.html", session=session,
                                  status_code=status_code, zones=available_zones(),
                                  chosen=zone, back=back, error=error)

    @router.get("/preferences", include_in_schema=False)
    def preferences(request: Request, next: str = "/sources") -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        return render(request, session, zone=deps.t(request).zone, back=safe_next(next))

    @router.post("/preferences", include_in_schema=False)
    def save_preferences(request: Request, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        t, wanted, back = deps.t(request), form.get("zone"), safe_next(form.get("back"))
        zone = known_zone(wanted)
        if zone is None:
            return render(request, session, zone=t.zone, back=back, status_code=400,
                          error=t("prefs.bad_zone", zone=wanted))
        response = redirect(back)
        response.set_cookie(TZ_COOKIE, zone, max_age=YEAR_S, path="/", samesite="lax")
        return deps.renderer.flash(request, response, ("ok", t("prefs.saved", zone=zone)))
