"""The API's Swagger UI from assets in the package: `/api/v1/docs` makes no outside request."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

ASSET_DIR: Final = Path(__file__).parent / "swagger"
_TYPES: Final = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
                 "swagger-ui.css": "text/css; charset=utf-8"}


def docs_router(*, openapi_url: str, docs_url: str, title: str) -> APIRouter:
    """Routes for the docs page, its two assets and a `/docs` shortcut."""
    router = APIRouter()

    @router.get(docs_url, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} · API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css", swagger_favicon_url="/favicon.svg",
            # no validator badge: it would ask validator.swagger.io about the spec
            swagger_ui_parameters={"validatorUrl": None},
        )

    @router.get("/static/swagger/{name}", include_in_schema=False)
    def swagger_asset(name: str) -> FileResponse:
        if name not in _TYPES:
            raise HTTPException(status_code=404)
        return FileResponse(ASSET_DIR / name, media_type=_TYPES[name],
                            headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/docs", include_in_schema=False)
    def docs_shortcut() -> RedirectResponse:
        return RedirectResponse(docs_url, status_code=307)

    return router
