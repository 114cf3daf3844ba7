"""The FastAPI application: REST /api/v1 (+ OpenAPI), agent endpoints, error mapping.

Other areas mount their routers with `create_app(settings, routers=[...])` (e.g. the SMC RPC
router at `/`, the console) or later with `app.include_router(...)`; they reach the services
through `rehost.api.deps.get_context(request)` / `app.state.ctx`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from rehost import __version__
from rehost.api import errors
from rehost.api.access import AccessMiddleware
from rehost.api.limits import BodyLimitMiddleware, BodyLimits
from rehost.api.metrics import Metrics
from rehost.api.routes import (
    agent,
    agentdist,
    credentials,
    image_files,
    image_publish,
    jobs,
    ops,
    resources,
    sources,
    tags,
    transit_hosts,
    users,
    workgroups,
)
from rehost.api.schemas.base import ERRORS, UNUSED_STATUSES, HealthOut
from rehost.api.swagger_ui import docs_router
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
    body_limits: BodyLimits | None = None,
) -> FastAPI:
    """Build the app on `context` (default: open/migrate the database from `settings`)."""
    ctx = context or bootstrap.open_context(settings)
    app = FastAPI(
        title="rehost", version=__version__,
        description="Self-hosted server migration center. REST auth: HTTP Basic with "
        "AccessKeyId:AccessKeySecret; agent endpoints: Bearer <agent token>.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
    )
    # Swagger UI from the package's own assets, not a CDN (air-gapped sites)
    app.include_router(docs_router(openapi_url=f"{API_PREFIX}/openapi.json",
                                   docs_url=f"{API_PREFIX}/docs", title="rehost"))
    app.state.ctx = ctx
    app.state.settings = settings
    app.state.metrics = Metrics(ctx)
    errors.install(app)
    app.add_middleware(AccessMiddleware, metrics=app.state.metrics)  # outside errors' middleware
    # added last, so it is outermost: bodies are bounded before any route or credential check
    app.add_middleware(BodyLimitMiddleware, limits=body_limits or BodyLimits())
    if settings.api_tls:
        install_hsts(app)
    app.include_router(ops.router)
    for module in (sources, jobs, resources, image_files, image_publish, agent,
                   transit_hosts, tags, credentials):
        app.include_router(module.router, prefix=API_PREFIX, responses=ERRORS)
    app.include_router(transit_hosts.codes_router, prefix=API_PREFIX, responses=ERRORS)
    app.include_router(users.router, prefix=API_PREFIX, responses=ERRORS)
    app.include_router(users.me_router, prefix=API_PREFIX, responses=ERRORS)
    app.include_router(workgroups.router, prefix=API_PREFIX, responses=ERRORS)
    app.include_router(agentdist.router)  # /agent/rehost-agent.pyz, outside /api/v1
    for extra in routers:
        app.include_router(extra)

    @app.get(f"{API_PREFIX}/health", tags=["health"])
    def health() -> HealthOut:
        """Liveness probe (no auth); /healthz is the same, /readyz also checks dependencies."""
        return HealthOut(status="ok", version=__version__)

    install_openapi(app)
    return app


def install_openapi(app: FastAPI) -> None:
    """The OpenAPI document without the 422 answers FastAPI assumes (this app answers 400)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            for path in doc.get("paths", {}).values():
                for operation in path.values():
                    for status in UNUSED_STATUSES:
                        operation.get("responses", {}).pop(status, None)
            for name in ("HTTPValidationError", "ValidationError"):
                doc.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
