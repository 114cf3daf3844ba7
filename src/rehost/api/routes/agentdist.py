"""GET /agent/rehost-agent.pyz (+ .sha256): the portable agent, no auth (it holds no secret)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from rehost.agentdist.installer import install_script
from rehost.agentdist.pyz import agent_artefact

router = APIRouter(prefix="/agent", tags=["agent"])


@router.get("/rehost-agent.pyz", response_class=Response, responses={
    200: {"content": {"application/zip": {}}, "description": "the agent as one zipapp"}})
def pyz() -> Response:
    """The zipapp; its SHA-256 in the X-Rehost-Agent-SHA256 header and at .sha256."""
    art = agent_artefact()
    return Response(art.data, media_type="application/zip", headers={
        "X-Rehost-Agent-Version": art.version, "X-Rehost-Agent-SHA256": art.sha256,
        "Content-Disposition": "attachment; filename=rehost-agent.pyz"})


@router.get("/rehost-agent.pyz.sha256", response_class=PlainTextResponse)
def pyz_sha256() -> str:
    """`sha256sum -c` format."""
    return f"{agent_artefact().sha256}  rehost-agent.pyz\n"


@router.get("/install.sh", response_class=PlainTextResponse)
def install_sh(request: Request) -> str:
    """The installer, with this server's URL and the pyz digest baked in."""
    art = agent_artefact()
    endpoint = str(request.base_url).rstrip("/")
    return install_script(endpoint=endpoint, sha256=art.sha256, version=art.version)
