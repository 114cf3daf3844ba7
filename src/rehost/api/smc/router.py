"""The SMC-compatible RPC endpoint: `POST /` with `x-acs-action`, ACS3-HMAC-SHA256 signed."""

from __future__ import annotations

import logging
import socket
import uuid
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from rehost.api.deps import get_context
from rehost.api.smc import (
    accepted,
    auth,
    errors,
    job_actions,
    source_actions,
    tag_actions,
    token_actions,
    workgroup_actions,
)
from rehost.api.smc.call import Action, Call
from rehost.api.smc.nonces import MemoryNonceStore, NonceStore
from rehost.api.smc.params import Params
from rehost.api.smc.signature import group_headers, parse_query
from rehost.domain import authz
from rehost.domain.errors import NotFound, RehostError, Unauthenticated
from rehost.domain.ids import AccessKeyId
from rehost.jsonvalue import JsonObject
from rehost.services import auth as key_auth
from rehost.services.context import ServiceContext

API_VERSION = "2019-06-01"
READ_PREFIXES = ("Describe", "List")
log = logging.getLogger(__name__)

ACTIONS: dict[str, Action] = {
    "CreateReplicationJob": job_actions.create_replication_job,
    "StartReplicationJob": job_actions.start_replication_job,
    "StopReplicationJob": job_actions.stop_replication_job,
    "CutOverReplicationJob": job_actions.cut_over_replication_job,
    "DescribeReplicationJobs": job_actions.describe_replication_jobs,
    "DeleteReplicationJob": job_actions.delete_replication_job,
    "ModifyReplicationJobAttribute": job_actions.modify_replication_job_attribute,
    "DescribeSourceServers": source_actions.describe_source_servers,
    "DeleteSourceServer": source_actions.delete_source_server,
    "ModifySourceServerAttribute": source_actions.modify_source_server_attribute,
    "CreateAccessToken": token_actions.create_access_token,
    "ListAccessTokens": token_actions.list_access_tokens,
    "DisableAccessToken": token_actions.disable_access_token,
    "DeleteAccessToken": token_actions.delete_access_token,
    "TagResources": tag_actions.tag_resources,
    "UntagResources": tag_actions.untag_resources,
    "ListTagResources": tag_actions.list_tag_resources,
    "CreateWorkgroup": workgroup_actions.create_workgroup,
    "DeleteWorkgroup": workgroup_actions.delete_workgroup,
    "DescribeWorkgroups": workgroup_actions.describe_workgroups,
    "ModifyWorkgroupAttribute": workgroup_actions.modify_workgroup_attribute,
    "AssociateSourceServers": workgroup_actions.associate_source_servers,
    "DisassociateSourceServers": workgroup_actions.disassociate_source_servers,
}


class SmcEndpoint:
    """Authenticates one RPC request and runs its action through the services."""

    def __init__(self, *, nonces: NonceStore | None = None) -> None:
        self.nonces = nonces or MemoryNonceStore()
        self.host_id = socket.gethostname()

    def handle(self, ctx: ServiceContext, request: auth.RawRequest) -> tuple[int, JsonObject]:
        """Return (HTTP status, JSON document) for one request."""
        request_id = str(uuid.uuid4()).upper()
        try:
            body = self._run(ctx, request)
        except RehostError as exc:
            return self._error(errors.from_domain(exc), request_id)
        except errors.SmcError as exc:
            return self._error(exc, request_id)
        except Exception:  # the SDK must get a parseable error, the log keeps the cause
            log.exception("SMC request %s failed", request_id)
            return self._error(errors.internal_error(), request_id)
        return 200, {"RequestId": request_id, **body}

    def _run(self, ctx: ServiceContext, request: auth.RawRequest) -> JsonObject:
        signed = auth.verify(request, lookup_secret=lambda key: _secret(ctx, key),
                             nonces=self.nonces, now=ctx.now())
        version = auth.header(request, "x-acs-version")
        if version != API_VERSION:
            raise errors.invalid_version(version)
        name = auth.header(request, "x-acs-action")
        action = ACTIONS.get(name)
        if action is None and name not in accepted.UNSUPPORTED:
            raise errors.action_not_found(name)
        principal = key_auth.principal_of_key(ctx, AccessKeyId(signed.access_key_id))
        authz.authorize(principal, smc_action(name))
        if action is None:
            raise accepted.refuse(name)
        params = _params(request)
        accepted.check_params(name, params)
        return action(Call(ctx, principal.account_id, params))

    def _error(self, error: errors.SmcError, request_id: str) -> tuple[int, JsonObject]:
        return error.http_status, errors.error_body(error, request_id=request_id,
                                                    host_id=self.host_id)


def smc_action(name: str) -> authz.Action:
    """An SMC action as `rehost.domain.authz` sees it: Describe*/List* read, the rest write."""
    verb = authz.Verb.READ if name.startswith(READ_PREFIXES) else authz.Verb.WRITE
    return authz.Action(name=name, area=authz.Area.MIGRATION, verb=verb)


def _secret(ctx: ServiceContext, access_key_id: str) -> str | None:
    try:
        return key_auth.derive_secret(ctx, AccessKeyId(access_key_id))
    except (NotFound, Unauthenticated):
        return None


def _params(request: auth.RawRequest) -> Params:
    pairs = list(request.query)
    content_type = auth.header(request, "content-type").lower()
    if request.body and content_type.startswith("application/x-www-form-urlencoded"):
        pairs += _form_pairs(request.body)
    return Params(pairs)


def _form_pairs(body: bytes) -> list[tuple[str, str]]:
    """The pairs of a form body; bytes that are not UTF-8 (raw or %-escaped) are refused."""
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise errors.malformed_form(exc.start) from exc


def build_router(*, nonces: NonceStore | None = None) -> APIRouter:
    """The `POST /` router; it reaches the services through `app.state.ctx`."""
    endpoint = SmcEndpoint(nonces=nonces)
    router = APIRouter()

    @router.post("/", include_in_schema=False)
    async def smc_rpc(request: Request) -> JSONResponse:
        raw = auth.RawRequest(
            method=request.method, path=request.url.path,
            query=parse_query(request.url.query),
            headers=group_headers(request.headers.items()), body=await request.body(),
        )
        # the services are blocking; keep them off the event loop
        status, document = await run_in_threadpool(endpoint.handle, get_context(request), raw)
        return JSONResponse(document, status_code=status)

    return router
