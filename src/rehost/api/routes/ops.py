"""Operations endpoints at the root: /healthz, /readyz (no auth), /metrics (token or loopback)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from rehost import __version__
from rehost.api.deps import context_dependency
from rehost.api.metrics import CONTENT_TYPE, Metrics
from rehost.api.metrics_access import check_scraper
from rehost.api.schemas.base import ERRORS, CheckOut, HealthOut, ReadyOut
from rehost.config import Settings
from rehost.services import readiness
from rehost.services.context import ServiceContext

router = APIRouter(tags=["operations"])
Ctx = Annotated[ServiceContext, Depends(context_dependency)]


@router.get("/healthz")
async def healthz() -> HealthOut:
    """Liveness: the process answers (touches nothing else)."""
    return HealthOut(status="ok", version=__version__)


@router.get("/readyz", response_model=ReadyOut, responses={
    503: {"model": ReadyOut, "description": "a check failed; `reason` says which"}})
async def readyz(ctx: Ctx) -> JSONResponse:
    """Readiness: database query, data port listening, image stores writable; 503 otherwise."""
    checks = await run_in_threadpool(readiness.run_checks, ctx)
    failed = [c for c in checks if not c.ok]
    body = ReadyOut(status="ready" if not failed else "not ready",
                    reason="; ".join(c.detail for c in failed),
                    checks={c.name: CheckOut(ok=c.ok, detail=c.detail) for c in checks})
    return JSONResponse(body.model_dump(), status_code=503 if failed else 200)


@router.get("/metrics", response_class=Response,
            responses={401: ERRORS[401], 403: ERRORS[403]})
async def metrics(request: Request) -> Response:
    """Prometheus text exposition (bearer metrics_token when set, else loopback clients only)."""
    settings: Settings = request.app.state.settings
    check_scraper(token=settings.metrics_token, client_host=request.client.host
                  if request.client else "", authorization=request.headers.get("authorization", ""))
    registry: Metrics = request.app.state.metrics
    return Response(await run_in_threadpool(registry.render), media_type=CONTENT_TYPE)
