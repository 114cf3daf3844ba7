"""The console's FastAPI router: pages, static assets, and how the server mounts them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from rehost.api.deps import get_context
from rehost.console import (
    pages_auth,
    pages_catalog,
    pages_codes,
    pages_hosts,
    pages_images,
    pages_job_new,
    pages_jobs,
    pages_prefs,
    pages_publish,
    pages_regions,
    pages_sources,
    pages_tags,
    pages_users,
)
from rehost.console.render import Renderer
from rehost.console.session import SessionCodec
from rehost.console.web import ConsoleDeps
from rehost.services.context import ServiceContext

STATIC_DIR: Final = Path(__file__).parent / "static"
_STATIC_TYPES: Final = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                        ".svg": "image/svg+xml"}
FAVICON: Final = STATIC_DIR / "favicon.svg"


def _static_routes(router: APIRouter) -> None:
    files = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in _STATIC_TYPES}

    @router.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> FileResponse:
        path = files.get(name)
        if path is None:
            raise HTTPException(status_code=404)
        return FileResponse(path, media_type=_STATIC_TYPES[path.suffix],
                            headers={"Cache-Control": "public, max-age=300"})

    @router.get("/favicon.svg", include_in_schema=False)
    @router.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # one SVG for both: browsers ask /favicon.ico before they read the page's <link>
        return FileResponse(FAVICON, media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})


def create_console_router(
    context: Callable[[Request], ServiceContext] = get_context,
) -> APIRouter:
    """Build the console router; ``context`` gives the request's ServiceContext (app.state)."""
    renderer = Renderer(lambda request: SessionCodec(context(request).master_key))
    deps = ConsoleDeps(context=context, renderer=renderer)
    router = APIRouter()
    _static_routes(router)
    # order matters: /jobs/new and /jobs/progress.json before /jobs/{job_id}/…
    for module in (pages_auth, pages_sources, pages_codes, pages_job_new, pages_jobs,
                   pages_catalog, pages_prefs, pages_hosts, pages_images,
                   pages_regions, pages_users, pages_tags, pages_publish):
        module.register(router, deps)
    return router
