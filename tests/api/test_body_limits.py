"""Body limits before auth: Content-Length refused up front, streamed bodies cut at the limit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rehost.api.app import create_app
from rehost.api.limits import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware, BodyLimits
from rehost.services.context import ServiceContext

MIB = 1024 * 1024


@pytest.fixture
def client(ctl_ctx: ServiceContext) -> Iterator[TestClient]:
    """The app on the test context."""
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx)) as c:
        yield c


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    block = b"x" * size
    for _ in range(total // size):
        yield block


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/", "/api/v1/agent/import", "/login"])
def test_big_declared_body_is_413_before_auth(client: TestClient, path: str) -> None:
    r = client.post(path, content=b"{" + b" " * (2 * MIB) + b"}",
                    headers={"content-type": "application/json", "x-request-id": "rid-1"})
    assert r.status_code == 413, r.text
    doc = r.json()
    if path == "/":  # the SMC endpoint answers in SMC's document, which its SDKs parse
        assert (doc["Code"], doc["RequestId"]) == ("RequestBody.TooLarge", "rid-1")
        assert str(DEFAULT_MAX_BODY_BYTES) in doc["Message"] and doc["HostId"]
        return
    assert doc == {"code": "RequestBody.TooLarge", "request_id": "rid-1",
                   "message": doc["message"]}
    assert str(DEFAULT_MAX_BODY_BYTES) in doc["message"]


def test_streamed_body_without_length_is_cut(client: TestClient) -> None:
    r = client.post("/api/v1/jobs", content=_chunks(8 * MIB),
                    headers={"content-type": "application/json", "accept-language": "zh-CN"})
    assert r.status_code == 413
    assert "请求体" in r.json()["message"]


def test_small_body_still_reaches_auth(client: TestClient) -> None:
    r = client.post("/api/v1/jobs", json={"name": "x"})
    assert r.status_code == 401


def test_bad_content_length_is_400() -> None:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    async def receive() -> dict[str, Any]:
        raise AssertionError("nothing may be read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/api/v1/jobs", "headers": [(b"content-length", b"-5")]}
    asyncio.run(BodyLimitMiddleware(app)(scope, receive, send))
    assert sent[0]["status"] == 400
    assert b"InvalidParameter.ContentLength" in sent[1]["body"]


def test_streamed_reading_stops_at_the_limit() -> None:
    """The middleware reads no more than limit + one message of an endless body."""
    received = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"y" * 1000, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        pass

    limits = BodyLimits(default_bytes=10_000, routes={"/big/": 50_000})
    scope = {"type": "http", "path": "/api/v1/x", "headers": []}
    asyncio.run(BodyLimitMiddleware(app, limits)(scope, receive, send))
    assert received == 11
    received = 0
    asyncio.run(BodyLimitMiddleware(app, limits)({**scope, "path": "/big/y"}, receive, send))
    assert received == 51


def test_body_under_the_limit_is_replayed_whole() -> None:
    got: list[bytes] = []
    parts = [{"type": "http.request", "body": b"ab", "more_body": True},
             {"type": "http.request", "body": b"cd", "more_body": False}]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        for _ in range(2):
            got.append((await receive())["body"])

    async def receive() -> dict[str, Any]:
        return parts.pop(0)

    async def send(message: dict[str, Any]) -> None:
        pass

    scope = {"type": "http", "path": "/", "headers": [(b"content-length", b"4")]}
    asyncio.run(BodyLimitMiddleware(app)(scope, receive, send))
    assert got == [b"ab", b"cd"]
