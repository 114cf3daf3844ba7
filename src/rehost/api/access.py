"""ASGI middleware: a request id per request, the access log line, the latency histogram."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rehost.api.metrics import Metrics
from rehost.logformat import REQUEST_ID

access_log = logging.getLogger("rehost.access")
MAX_REQUEST_ID = 128
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-Id when sane (as in `rehost.api.errors`), else a new one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            given = bytes(value).decode("latin-1")
            if 0 < len(given) <= MAX_REQUEST_ID and given.isascii() and given.isprintable():
                return given
    return str(uuid.uuid4())


def _with_request_id(scope: Scope, request_id: str) -> Scope:
    """The scope with exactly one X-Request-Id header: the error middleware echoes it back."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"x-request-id"]
    return {**scope, "headers": [*headers, (b"x-request-id", request_id.encode())]}


def route_template(scope: Scope) -> str:
    """The route template (`/api/v1/jobs/{job_id}`), never the raw path (unbounded labels)."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    # an included route object lacks its prefix: the prefix is what precedes its rendering
    own, path = str(getattr(route, "path", "")), str(scope.get("path", ""))
    params = {k: str(v) for k, v in dict(scope.get("path_params", {})).items()}
    rendered = _PARAM.sub(lambda m: params.get(m.group(1), m.group(0)), own)
    if own and path.endswith(rendered):
        return path[: len(path) - len(rendered)] + own
    names = {v: k for k, v in params.items()}
    return "/".join(f"{{{names[s]}}}" if s in names else s for s in path.split("/"))


class AccessMiddleware:
    """Wraps the app (outermost), so the id is known to every log line of the request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and log it once its response has started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope = _with_request_id(scope, request_id)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status, route = 500, "unmatched"

        async def send_timed(message: Message) -> None:
            nonlocal status, route
            if message["type"] == "http.response.start":
                # read the route now: FastAPI drops its routing context once the endpoint returns
                status, route = int(message["status"]), route_template(scope)
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            self._record(scope, route, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _record(self, scope: Scope, route: str, status: int, seconds: float) -> None:
        method, path = str(scope.get("method", "")), str(scope.get("path", ""))
        self.metrics.observe_request(method=method, route=route, status=status,
                                     seconds=seconds)
        client = scope.get("client")
        access_log.info(
            "%s %s %d %.1fms", method, path, status, seconds * 1000,
            extra={"request_id": REQUEST_ID.get(), "method": method, "path": path, "status": status,
                   "duration_ms": round(seconds * 1000, 1),
                   "client": f"{client[0]}:{client[1]}" if client else ""},
        )
