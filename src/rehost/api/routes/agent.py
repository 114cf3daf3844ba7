"""/api/v1/agent: import (activation code), heartbeat, poll work, report error (Bearer token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from rehost.api import longpoll
from rehost.api.deps import AgentToken, Ctx
from rehost.api.schemas import Model
from rehost.api.schemas.hosts import AgentBeatOut, ErrorReported, ImportOut, WorkItemOut
from rehost.services import agents

router = APIRouter(prefix="/agent", tags=["agent"])
MAX_WAIT_S = 20.0


class ImportIn(Model):
    """POST /agent/import."""

    code_id: str
    code: str
    name: str | None = None
    inventory: dict[str, Any]


class HeartbeatIn(Model):
    """POST /agent/heartbeat."""

    inventory: dict[str, Any] | None = None


class ErrorIn(Model):
    """POST /agent/error."""

    job_id: str = Field(max_length=64)
    code: str = Field(max_length=128)
    message: str = Field(max_length=4096)
    hint: str = Field("", max_length=4096)
    hint_zh: str = Field("", max_length=4096)  # optional: older agents send English only


@router.post("/import", status_code=201)
def import_source(body: ImportIn, ctx: Ctx) -> ImportOut:
    """Register this machine as a source; returns its id, agent token and server CA (once)."""
    result = agents.import_source(ctx, code_id=body.code_id, code=body.code,
                                  inventory=body.inventory, name=body.name)
    return ImportOut(source_id=result.source_id, agent_token=result.agent_token,
                     server_ca_pem=result.server_ca_pem,
                     heartbeat_interval_s=ctx.settings.heartbeat_interval_s)


@router.post("/heartbeat")
def heartbeat(body: HeartbeatIn, ctx: Ctx, token: AgentToken) -> AgentBeatOut:
    """Keep the source online (optionally with a fresh inventory)."""
    source = agents.heartbeat(ctx, token, inventory=body.inventory)
    return AgentBeatOut(source_id=source.id, state=source.state,
                        heartbeat_interval_s=ctx.settings.heartbeat_interval_s)


@router.get("/work")
async def poll_work(
    ctx: Ctx, token: AgentToken, request: Request, response: Response,
    wait: float = Query(0.0, ge=0.0, le=MAX_WAIT_S,
                        description="Long poll: hold the answer up to this many seconds "
                                    "while it still has the ETag `known`"),
    known: str = Query("", max_length=64, description="ETag of the answer the agent has"),
) -> WorkItemOut:
    """What the agent should do now: replicate / pause / none.

    With `wait`, the answer comes as soon as it differs from `known` (a job started, paused
    or changed), so work reaches the agent within a fraction of a second instead of a poll
    interval.
    """
    item = await longpoll.wait_for_change(
        lambda: agents.poll_work(ctx, token).to_json(), known=known, wait_s=wait,
        commits=ctx.db.commits, gone=request.is_disconnected)
    response.headers["ETag"] = item.etag
    return WorkItemOut.model_validate(item.doc)


@router.post("/error")
def report_error(body: ErrorIn, ctx: Ctx, token: AgentToken) -> ErrorReported:
    """Report a failure of the agent's job (→ InError with the code and hint)."""
    job = agents.report_error(ctx, token, job_id=body.job_id, code=body.code,
                              message=body.message, hint=body.hint, hint_zh=body.hint_zh)
    return ErrorReported(job_id=job.id, status=job.status, error_code=job.error_code)
