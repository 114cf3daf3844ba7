"""FastAPI dependencies: the service context and the caller's identity."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from rehost.api.authorization import request_action
from rehost.domain import authz
from rehost.domain.authz import Principal
from rehost.domain.errors import Unauthenticated
from rehost.domain.ids import AccountId
from rehost.services import auth
from rehost.services.context import ServiceContext


def get_context(request: Request) -> ServiceContext:
    """The ServiceContext stored on the app by `create_app` (plain function, callable anywhere)."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


async def context_dependency(request: Request) -> ServiceContext:
    """`get_context` as an async dependency: FastAPI runs it without a thread-pool hop."""
    return get_context(request)


Ctx = Annotated[ServiceContext, Depends(context_dependency)]


def _missing(scheme: str) -> Unauthenticated:
    return Unauthenticated(
        "MissingAuthorization",
        f"Send 'Authorization: {scheme} …' (REST: HTTP Basic with AccessKeyId:AccessKeySecret).",
        f"请发送 'Authorization: {scheme} …'"
        "（REST 接口：HTTP Basic，AccessKeyId:AccessKeySecret）。",
    )


def basic_principal(request: Request, ctx: Ctx) -> Principal:
    """Authenticate HTTP Basic (AccessKeyId:AccessKeySecret), then authorize the route."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise _missing("Basic")
    try:
        key_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _missing("Basic") from exc
    if not sep or "\x00" in key_id or "\x00" in secret:
        raise _missing("Basic")
    principal = auth.verify_basic(ctx, key_id, secret)
    authz.authorize(principal, request_action(request))
    return principal


Caller = Annotated[Principal, Depends(basic_principal)]


def basic_account(principal: Caller) -> AccountId:
    """The authorized caller's account (every resource is scoped to it)."""
    return principal.account_id


async def bearer_token(request: Request) -> str:
    """The agent's `Authorization: Bearer <agent token>`."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value or "\x00" in value:
        raise _missing("Bearer")
    return value.strip()


Account = Annotated[AccountId, Depends(basic_account)]
AgentToken = Annotated[str, Depends(bearer_token)]
