"""Hostile input to every REST route: never a 5xx, always a coded JSON error, nothing half-made."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.hostile import (
    EDGE_INT,
    EDGE_TEXT,
    EDGE_TIME,
    assert_error_shape,
    body_of,
    counts,
    data_disks,
    encode,
    values,
)
from rehost.api.app import create_app
from rehost.services import accounts
from rehost.services.context import ServiceContext

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def basic(key_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic header for an AccessKey."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


@dataclass(frozen=True)
class World:
    """A client, our credentials, a real source/job/code, and another account's ids."""

    client: TestClient
    ctx: ServiceContext
    auth: dict[str, str]
    agent: dict[str, str]
    source_id: str
    job_id: str
    code_id: str
    code: str
    other_source_id: str
    other_job_id: str


def _import(client: TestClient, auth: dict[str, str], count: int = 1) -> dict[str, Any]:
    from conftest import make_inventory

    code = client.post("/api/v1/activation-codes", json={"count": count}, headers=auth).json()
    r = client.post("/api/v1/agent/import", json={
        "code_id": code["code_id"], "code": code["code"],
        "inventory": make_inventory(data=[(1, 8, 1), (2, 4, 1)])})
    assert r.status_code == 201, r.text
    return {**r.json(), "code_id": code["code_id"], "code": code["code"]}


def _account(client: TestClient, ctx: ServiceContext, name: str) -> dict[str, str]:
    account = accounts.create_account(ctx, name=name, password="pw-123456")
    key = accounts.create_access_key(ctx, account.id)
    return basic(key.key.id, key.secret)


@pytest.fixture
def world(ctl_ctx: ServiceContext, ctl_account: Any) -> Iterator[World]:
    """The app on the test context with one job of ours and one of another account."""
    key = accounts.create_access_key(ctl_ctx, ctl_account.id)
    auth = basic(key.key.id, key.secret)
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx),
                    raise_server_exceptions=False) as client:
        src = _import(client, auth, count=50)
        job = client.post("/api/v1/jobs", headers=auth, json={"source_id": src["source_id"]})
        them = _account(client, ctl_ctx, "other-" + src["source_id"])
        their_src = _import(client, them)
        their_job = client.post("/api/v1/jobs", headers=them,
                                json={"source_id": their_src["source_id"]}).json()
        yield World(client, ctl_ctx, auth, {"Authorization": "Bearer " + src["agent_token"]},
                    src["source_id"], job.json()["job_id"], src["code_id"], src["code"],
                    their_src["source_id"], their_job["job_id"])


def _ids(w: World, own: str, theirs: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from([own, theirs, "j-unknown", "s-unknown"]), values())


def _job_fields(w: World) -> dict[str, st.SearchStrategy[Any]]:
    text = st.one_of(st.sampled_from(EDGE_TEXT), values())
    number = st.one_of(st.sampled_from(EDGE_INT), values())
    when = st.one_of(st.sampled_from(EDGE_TIME), values())
    return {
        "name": text, "description": text, "image_name": text,
        "system_disk_size": number, "data_disks": data_disks(),
        "execution_mode": st.one_of(st.sampled_from(["create-only", "immediate", "scheduled"]),
                                    values()),
        "scheduled_start_time": when, "valid_time": when, "bandwidth_limit": number,
        "compress_level": number, "checksum": values(),
    }


def _routes(w: World) -> dict[str, tuple[str, str, st.SearchStrategy[Any], dict[str, str]]]:
    text = st.one_of(st.sampled_from(EDGE_TEXT), values())
    number = st.one_of(st.sampled_from(EDGE_INT), values())
    store = st.one_of(text, st.just(str(w.ctx.settings.data_dir / "fuzz-store"))).filter(
        lambda v: not (isinstance(v, str) and v.startswith("/") and "fuzz-store" not in v))
    create = body_of({**_job_fields(w), "source_id": _ids(w, w.source_id, w.other_source_id),
                      "region_id": st.one_of(st.sampled_from(["local", "mars"]), values())})
    return {
        "create-job": ("POST", "/api/v1/jobs", create, w.auth),
        "modify-job": ("PATCH", f"/api/v1/jobs/{w.job_id}", body_of(_job_fields(w)), w.auth),
        "modify-their-job": ("PATCH", f"/api/v1/jobs/{w.other_job_id}",
                             body_of(_job_fields(w)), w.auth),
        "batch-start": ("POST", "/api/v1/jobs/start", body_of({"job_ids": st.one_of(
            st.lists(_ids(w, w.job_id, w.other_job_id), max_size=12), values())}), w.auth),
        "create-region": ("POST", "/api/v1/regions", body_of({
            "region_id": st.one_of(st.from_regex(r"\A[a-z0-9-]{1,70}\Z"), text), "name": text,
            "image_store_path": store, "network_quota": number, "reserved_slots": number,
            "system_disk_min": number, "system_disk_max": number, "data_disk_min": number,
            "data_disk_max": number, "verify_after_migration": values()}), w.auth),
        "create-code": ("POST", "/api/v1/activation-codes", body_of(
            {"count": number, "ttl_days": number, "name": text}), w.auth),
        "modify-source": ("PATCH", f"/api/v1/sources/{w.source_id}",
                          body_of({"name": text, "description": text}), w.auth),
        "agent-import": ("POST", "/api/v1/agent/import", body_of({
            "code_id": st.one_of(st.just(w.code_id), text), "code": st.one_of(st.just(w.code),
                                                                             text),
            "name": text, "inventory": values()}), {}),
        "agent-heartbeat": ("POST", "/api/v1/agent/heartbeat",
                            body_of({"inventory": values()}), w.agent),
        "agent-error": ("POST", "/api/v1/agent/error", body_of({
            "job_id": _ids(w, w.job_id, w.other_job_id), "code": text, "message": text,
            "hint": text}), w.agent),
        "verify-unknown-image": ("POST", "/api/v1/images/m-unknown/verify", body_of(
            {"timeout": number, "success_patterns": values()}), w.auth),
    }


ROUTES = ["create-job", "modify-job", "modify-their-job", "batch-start", "create-region",
          "create-code", "modify-source", "agent-import", "agent-heartbeat", "agent-error",
          "verify-unknown-image"]


@pytest.mark.parametrize("route", ROUTES)
def test_hostile_bodies(world: World, route: str) -> None:
    method, url, strategy, headers = _routes(world)[route]

    @FUZZ
    @given(body=strategy)
    def run(body: Any) -> None:
        before = counts(world.ctx)
        r = world.client.request(method, url, content=encode(body),
                                 headers={**headers, "content-type": "application/json"})
        assert_error_shape(r)
        if r.status_code >= 400:
            assert counts(world.ctx) == before, (body, r.text)

    run()


PAGED = ["/api/v1/jobs", "/api/v1/sources", "/api/v1/images", "/api/v1/activation-codes"]
QUERY_VALUE = st.one_of(
    st.sampled_from([str(v) for v in EDGE_INT] + [t[:2000] for t in EDGE_TEXT if t != "\ud800"]),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=20))


@pytest.mark.parametrize("url", [*PAGED, "/api/v1/jobs/{job}/events"])
def test_hostile_queries(world: World, url: str) -> None:
    keys = ["page_number", "page_size", "status", "state", "name", "region_id", "source_id",
            "job_id", "image_id", "after_id", "limit", "force"]

    @FUZZ
    @given(query=st.dictionaries(st.sampled_from(keys), QUERY_VALUE, max_size=4))
    def run(query: dict[str, str]) -> None:
        r = world.client.get(url.format(job=world.job_id), params=query, headers=world.auth)
        document = assert_error_shape(r)
        if r.status_code == 400:
            assert document["code"].startswith("InvalidParameter."), document

    run()


ID_PATHS = [("GET", "/api/v1/jobs/{}"), ("PATCH", "/api/v1/jobs/{}"),
            ("DELETE", "/api/v1/jobs/{}"), ("POST", "/api/v1/jobs/{}/start"),
            ("POST", "/api/v1/jobs/{}/pause"), ("GET", "/api/v1/jobs/{}/events"),
            ("GET", "/api/v1/sources/{}"), ("PATCH", "/api/v1/sources/{}"),
            ("DELETE", "/api/v1/sources/{}"), ("GET", "/api/v1/regions/{}"),
            ("GET", "/api/v1/images/{}"), ("DELETE", "/api/v1/images/{}"),
            ("POST", "/api/v1/activation-codes/{}/disable")]


def test_hostile_ids_and_other_accounts(world: World) -> None:
    theirs = [world.other_job_id, world.other_source_id]

    @FUZZ
    @given(raw=st.one_of(st.sampled_from([*theirs, "%00", "%FF", "%2e%2e", "😀", "x" * 3000]),
                         st.text(st.characters(blacklist_categories=["Cs"]), min_size=1,
                                 max_size=30)))
    def run(raw: str) -> None:
        before = counts(world.ctx)
        quoted = raw if raw.startswith("%") else httpx_quote(raw)
        for method, template in ID_PATHS:
            r = world.client.request(method, template.format(quoted),
                                     headers={**world.auth, "content-type": "application/json"},
                                     content=b"{}" if method == "PATCH" else None)
            document = assert_error_shape(r)
            if raw in theirs:
                assert r.status_code == 404, (method, template, document)
        assert counts(world.ctx) == before

    run()


def httpx_quote(raw: str) -> str:
    """Percent-encode a path segment completely (slashes and dots too)."""
    from urllib.parse import quote

    return quote(raw, safe="")


RAW_BODIES = [
    (b"", "application/json"), (b"null", "application/json"), (b"[]", "application/json"),
    (b"{", "application/json"), (b'{"a":1}', "text/plain"), (b"\xff\xfe\x00", "application/json"),
    (b'{"source_id": "x"}', "application/x-www-form-urlencoded"),
    (b"source_id=x", "application/x-www-form-urlencoded"),
    (b'{"name": "' + b"a" * 2_000_000 + b'"}', "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b'{"source_id": "x", "source_id": "y"}', "application/json"),
    (b'{"count": 1e999}', "application/json"), (b'{"count": NaN}', "application/json"),
]


@pytest.mark.parametrize(("body", "content_type"), RAW_BODIES,
                         ids=[f"raw{i}" for i in range(len(RAW_BODIES))])
def test_malformed_bodies(world: World, body: bytes, content_type: str) -> None:
    before = counts(world.ctx)
    for url in ("/api/v1/jobs", "/api/v1/regions", "/api/v1/activation-codes",
                "/api/v1/jobs/start"):
        r = world.client.post(url, content=body, headers={**world.auth,
                                                          "content-type": content_type})
        too_big = len(body) > 1024 * 1024  # refused by the body limit before the route
        assert r.status_code in ((413,) if too_big else (400, 404)), (url, r.text[:300])
        assert_error_shape(r)
    assert counts(world.ctx) == before


@pytest.mark.parametrize("header", [
    "Basic", "Basic ===", "Basic " + base64.b64encode(b"\xff:\xff").decode(),
    "Basic " + base64.b64encode(b"a\x00:b").decode(), "Basic " + base64.b64encode(b"ab").decode(),
    "Bearer", "Bearer x", "Digest x", "basic " + "A" * 20_000, "Basic Og==",
])
def test_malformed_authorization(world: World, header: str) -> None:
    for url in ("/api/v1/jobs", "/api/v1/agent/work"):
        r = world.client.get(url, headers={"Authorization": header})
        assert r.status_code == 401, r.text
        assert_error_shape(r)


def test_unknown_routes_and_methods_are_json(world: World) -> None:
    for method, url in [("PUT", "/api/v1/jobs"), ("GET", "/api/v1/nope"),
                        ("DELETE", "/api/v1/regions/local")]:
        r = world.client.request(method, url, headers=world.auth)
        assert r.status_code in (404, 405)
        assert {"code", "message", "request_id"} <= set(r.json())
