"""Request body limits, enforced by a pure ASGI middleware before any route or credential check.

Every HTTP request body is counted while it streams in; a declared `Content-Length` over the
limit is refused before a byte is read. No route takes uploads, so one small limit applies to
all of them (`DEFAULT_MAX_BODY_BYTES`); a route that needs more gets its own entry in
`BodyLimits.routes` (longest matching path prefix wins). The body is held in memory only up to
the limit, then replayed to the app, so an unauthenticated client costs at most one limit.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from rehost.domain.errors import RehostError

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE_CODE = "RequestBody.TooLarge"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The largest body accepted per route: path prefix -> bytes, else default_bytes.

    Refusals on `rpc_paths` (the SMC endpoint) use SMC's error document, which its SDKs parse.
    """

    default_bytes: int = DEFAULT_MAX_BODY_BYTES
    routes: dict[str, int] = field(default_factory=dict)
    rpc_paths: frozenset[str] = frozenset({"/"})

    def for_path(self, path: str) -> int:
        """The limit for a request path."""
        best, limit = -1, self.default_bytes
        for prefix, size in self.routes.items():
            if path.startswith(prefix) and len(prefix) > best:
                best, limit = len(prefix), size
        return limit


def too_large(limit_bytes: int) -> RehostError:
    """The body is larger than the route accepts."""
    return RehostError(
        TOO_LARGE_CODE,
        f"The request body is larger than this route accepts ({limit_bytes} bytes); send a "
        "smaller body.",
        f"请求体超过该接口允许的大小（{limit_bytes} 字节）；请减小请求体后重试。",
    )


def bad_length() -> RehostError:
    """The Content-Length header is not a byte count."""
    return RehostError(
        "InvalidParameter.ContentLength",
        "The Content-Length header is not a non-negative integer; fix it or leave it out.",
        "Content-Length 请求头不是非负整数；请更正或删除该请求头。",
    )


class _TooLarge(Exception):
    """Raised inside the middleware when the streamed body passes the limit."""


class BodyLimitMiddleware:
    """Refuses (413) HTTP requests whose body is over the route's limit, before the app runs."""

    def __init__(self, app: ASGIApp, limits: BodyLimits | None = None) -> None:
        self.app = app
        self.limits = limits or BodyLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.limits.for_path(path)
        headers = _headers(scope)
        rpc = path in self.limits.rpc_paths
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, headers, bad_length(), 400, rpc=rpc)
                return
            if int(declared) > limit:
                await _refuse(send, headers, too_large(limit), 413, rpc=rpc)
                return
        try:
            messages = await _read_body(receive, limit)
        except _TooLarge:
            await _refuse(send, headers, too_large(limit), 413, rpc=rpc)
            return
        await self.app(scope, _replay(messages, receive), send)


async def _read_body(receive: Receive, limit: int) -> list[Message]:
    """Every body message of the request, or _TooLarge as soon as they pass limit bytes."""
    messages: list[Message] = []
    total = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages  # a disconnect: let the app see it
        total += len(message.get("body", b""))
        if total > limit:
            raise _TooLarge
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # after the body: wait for the disconnect

    return replay


def _headers(scope: Scope) -> dict[str, str]:
    return {bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
            for k, v in scope.get("headers", [])}


def _request_id(headers: dict[str, str]) -> str:
    rid = headers.get("x-request-id", "")
    ok = 0 < len(rid) <= 128 and rid.isascii() and rid.isprintable()
    return rid if ok else str(uuid.uuid4())


async def _refuse(send: Send, headers: dict[str, str], error: RehostError, status: int, *,
                  rpc: bool) -> None:
    rid = _request_id(headers)
    message = error.localized(headers.get("accept-language", "en"))
    doc = {"code": error.code, "message": message, "request_id": rid}
    if rpc:
        doc = {"RequestId": rid, "HostId": socket.gethostname(), "Code": error.code,
               "Message": f"{error.message} {error.message_zh}", "Recommend": ""}
    body = json.dumps(doc, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", rid.encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
