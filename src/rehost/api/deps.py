"""FastAPI dependencies: the service context and the caller's identity."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

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


def basic_account(request: Request, ctx: Ctx) -> AccountId:
    """Authenticate `Authorization: Basic base64(AccessKeyId:AccessKeySecret)`."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise _missing("Basic")
    try:
        key_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _missing("Basic") from exc
    if not sep or "\x00" in key_id or "\x00" in secret:
        raise _missing("Basic")
    return auth.verify_basic(ctx, key_id, secret)


async def bearer_token(request: Request) -> str:
    """The agent's `Authorization: Bearer <agent token>`."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value or "\x00" in value:
        raise _missing("Bearer")
    return value.strip()


Account = Annotated[AccountId, Depends(basic_account)]
AgentToken = Annotated[str, Depends(bearer_token)]
