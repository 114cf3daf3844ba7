"""Jinja2 environment, filters and the page response (security headers, flash messages)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from rehost.console.formatting import fmt_bytes, fmt_time, known_zone
from rehost.console.i18n import DEFAULT_ZONE, LANG_COOKIE, TZ_COOKIE, Translator, pick_locale
from rehost.console.session import Session, SessionCodec
from rehost.domain.states import SourceState

FLASH_COOKIE: Final = "rehost_flash"
TEMPLATE_DIR: Final = Path(__file__).parent / "templates"
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_SOURCE_TONES: Final = {
    SourceState.AVAILABLE: "ok", SourceState.IN_USE: "run",
    SourceState.UNAVAILABLE: "err", SourceState.DELETING: "idle",
}


def _source_tone(state: SourceState) -> str:
    return _SOURCE_TONES.get(state, "idle")


def _merge_query(params: dict[str, str], **changes: object) -> str:
    merged = {k: v for k, v in params.items() if v}
    merged.update({k: str(v) for k, v in changes.items()})
    return urlencode(merged)


@pass_context
def _time_in_zone(context: Context, value: datetime | None) -> str:
    """The ``time`` filter: a timestamp in the page's time zone (the translator's)."""
    t = context.get("t")
    return fmt_time(value, t.zone if isinstance(t, Translator) else "UTC")


def build_environment() -> Environment:
    """Create the template environment with the console's filters."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(bytes=fmt_bytes, time=_time_in_zone, source_tone=_source_tone)
    env.filters["merge_query"] = _merge_query
    return env


def translator_for(request: Request) -> Translator:
    """Pick the request's language from its cookie (zh-CN by default)."""
    zone = known_zone(request.cookies.get(TZ_COOKIE)) or DEFAULT_ZONE
    return Translator(pick_locale(request.cookies.get(LANG_COOKIE)), zone)


def current_path(request: Request) -> str:
    """Path plus query string, used for language-switch and action redirects."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


class Renderer:
    """Renders templates into HTML responses and carries flash messages across redirects."""

    def __init__(self, codec: Callable[[Request], SessionCodec]) -> None:
        self.env = build_environment()
        self.codec = codec

    def page(
        self, request: Request, template: str, *, session: Session | None,
        section: str = "", status_code: int = 200, **context: Any,
    ) -> HTMLResponse:
        """Render ``template`` with the common layout context."""
        flashes = self._read_flashes(request)
        html = self.env.get_template(template).render(
            t=translator_for(request), session=session, section=section,
            current_path=current_path(request), flashes=flashes, **context,
        )
        response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
        if request.cookies.get(FLASH_COOKIE):
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def _read_flashes(self, request: Request) -> list[tuple[str, str]]:
        data = self.codec(request).verify("flash", request.cookies.get(FLASH_COOKIE))
        items = data.get("f") if data else None
        if not isinstance(items, list):
            return []
        return [(str(i[0]), str(i[1])) for i in items if isinstance(i, list) and len(i) == 2]

    def flash(
        self, request: Request, response: Response, *messages: tuple[str, str]
    ) -> Response:
        """Attach messages shown once on the next page (levels: ok, error, info)."""
        value = self.codec(request).sign("flash", {"f": [list(m) for m in messages]})
        response.set_cookie(FLASH_COOKIE, value, path="/", httponly=True, samesite="lax")
        return response
