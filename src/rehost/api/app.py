"""The FastAPI application: REST /api/v1 (+ OpenAPI), agent endpoints, error mapping.

Other areas mount their routers with `create_app(settings, routers=[...])` (e.g. the SMC RPC
router at `/`, the console) or later with `app.include_router(...)`; they reach the services
through `rehost.api.deps.get_context(request)` / `app.state.ctx`.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from rehost import __version__
from rehost.api import errors
from rehost.api.access import AccessMiddleware
from rehost.api.limits import BodyLimitMiddleware, BodyLimits
from rehost.api.metrics import Metrics
from rehost.api.routes import (
    agent,
    agentdist,
    image_files,
    jobs,
    ops,
    resources,
    sources,
    tags,
    transit_hosts,
)
from rehost.config import Settings
from rehost.services import bootstrap
from rehost.services.context import ServiceContext

API_PREFIX = "/api/v1"


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
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.settings = settings
    app.state.metrics = Metrics(ctx)
    errors.install(app)
    app.add_middleware(AccessMiddleware, metrics=app.state.metrics)  # outside errors' middleware
    # added last, so it is outermost: bodies are bounded before any route or credential check
    app.add_middleware(BodyLimitMiddleware, limits=body_limits or BodyLimits())
    app.include_router(ops.router)
    for module in (sources, jobs, resources, image_files, agent, transit_hosts, tags):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(agentdist.router)  # /agent/rehost-agent.pyz, outside /api/v1
    for extra in routers:
        app.include_router(extra)

    @app.get(f"{API_PREFIX}/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness probe (no auth); /healthz is the same, /readyz also checks dependencies."""
        return {"status": "ok", "version": __version__}

    return app
