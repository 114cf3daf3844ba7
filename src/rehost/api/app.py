"""The FastAPI application: REST /api/v1 (+ OpenAPI), agent endpoints, error mapping.

Other areas mount their routers with `create_app(settings, routers=[...])` (e.g. the SMC RPC
router at `/`, the console) or later with `app.include_router(...)`; they reach the services
through `rehost.api.deps.get_context(request)` / `app.state.ctx`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter, FastAPI, Request, Response

from rehost import __version__
from rehost.api import errors
from rehost.api.routes import agent, credentials, jobs, resources, sources, transit_hosts
from rehost.config import Settings
from rehost.services import bootstrap
from rehost.services.context import ServiceContext

API_PREFIX = "/api/v1"
HSTS = "max-age=31536000"  # one year; only sent over --tls (browsers ignore it over http)


def install_hsts(app: FastAPI) -> None:
    """Send Strict-Transport-Security on every answer (the API and console are HTTPS-only)."""

    @app.middleware("http")
    async def hsts(request: Request, call_next: Callable[[Request], Awaitable[Response]],
                   ) -> Response:
        response = await call_next(request)
        response.headers["Strict-Transport-Security"] = HSTS
        return response


def create_app(
    settings: Settings,
    *,
    context: ServiceContext | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the app on `context` (default: open/migrate the database from `settings`)."""
    ctx = context or bootstrap.open_context(settings)
    app = FastAPI(
        title="rehost", version=__version__,
        description="Self-hosted server migration center. REST auth: HTTP Basic with "
        "AccessKeyId:AccessKeySecret; agent endpoints: Bearer <agent token>.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.settings = settings
    errors.install(app)
    if settings.api_tls:
        install_hsts(app)
    for module in (sources, jobs, resources, agent, transit_hosts, credentials):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(transit_hosts.codes_router, prefix=API_PREFIX)
    for extra in routers:
        app.include_router(extra)

    @app.get(f"{API_PREFIX}/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness probe (no auth)."""
        return {"status": "ok", "version": __version__}

    return app
