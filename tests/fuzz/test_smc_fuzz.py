"""Hostile input to the SMC RPC endpoint: never a 5xx, always SMC's error document."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from conftest import make_inventory
from fuzz.hostile import CODE, EDGE_INT, EDGE_TIME, counts
from fuzz.test_rest_fuzz import FUZZ
from rehost.api.app import create_app
from rehost.api.smc.router import ACTIONS, build_router
from rehost.api.smc.signature import (
    CanonicalInput,
    authorization_header,
    canonical_request,
    group_headers,
    sign,
    string_to_sign,
)
from rehost.services import accounts, activation, agents
from rehost.services.context import ServiceContext
from smc.rawsign import signed_headers

SMC_KEYS = ["SourceId", "RegionId", "JobId", "Name", "Description", "SystemDiskSize",
            "DataDisk.1.Index", "DataDisk.1.Size", "DataDisk.2.Index", "DataDisk.2.Size",
            "DataDisk.x.Size", "ScheduledStartTime", "ValidTime", "ReplicationParameters",
            "PageNumber", "PageSize", "Status", "State", "Count", "TimeToLiveInDays", "Force",
            "RunOnce", "NetMode", "JobId.1", "SourceId.1", "AccessTokenId", "ImageName"]
SMC_VALUES = st.one_of(
    st.sampled_from([str(v) for v in EDGE_INT] + [str(t) for t in EDGE_TIME] + [
        "", "1", "9", "true", "maybe", "1e3", "٣", " 12 ", "1_0", "{", "[1]", "名字",
        '{"bandwidth_limit": 1e400}', '{"compress_level": true}', '{"bandwidth_limit": 1.5}',
        "a\x00b", "local", "x" * 3000]),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=12))


class Rpc:
    """Signs and posts RPC calls with the test account's AccessKey."""

    def __init__(self, client: TestClient, key_id: str, secret: str,
                 ctx: ServiceContext) -> None:
        self.client, self.key_id, self.secret, self.ctx = client, key_id, secret, ctx

    def post(self, action: str, query: dict[str, str], **overrides: str) -> Any:
        """Send one signed call (header overrides applied after signing)."""
        headers = signed_headers(host="testserver", action=action, query=query,
                                 key_id=self.key_id, secret=self.secret, date=self.ctx.now())
        headers = {k: v for k, v in {**headers, **overrides}.items() if v != "<drop>"}
        return self.client.post("/?" + urlencode(query), headers=headers)


@pytest.fixture
def rpc(ctl_ctx: ServiceContext, ctl_account: Any) -> Iterator[tuple[Rpc, dict[str, str]]]:
    """A signed RPC caller and the ids of a real source and job."""
    from rehost.domain.rules import JobRequest
    from rehost.services import jobs

    key = accounts.create_access_key(ctl_ctx, ctl_account.id)
    code = activation.create_code(ctl_ctx, ctl_account.id, count=2)
    inventory = make_inventory(data=[(1, 8, 1)])
    src = agents.import_source(ctl_ctx, code_id=code.code.id, code=code.secret,
                               inventory=inventory)
    other = agents.import_source(ctl_ctx, code_id=code.code.id, code=code.secret,
                                 inventory=inventory)
    job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=other.source_id,
                          region_id="local", request=JobRequest())
    app = create_app(ctl_ctx.settings, context=ctl_ctx, routers=[build_router()])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Rpc(client, key.key.id, key.secret, ctl_ctx), {"SourceId": src.source_id,
                                                     "JobId": job.id}


def assert_smc_shape(response: Any) -> dict[str, Any]:
    """No 5xx; a refusal is SMC's {RequestId, HostId, Code, Message, Recommend}."""
    assert response.status_code < 500, response.text[:500]
    document: dict[str, Any] = response.json()
    assert document.get("RequestId"), document
    if response.status_code >= 400:
        assert {"Code", "Message", "HostId"} <= set(document), document
        assert CODE.match(document["Code"]) and document["Code"] != "InternalError", document
        assert len(document["Message"]) > 10, document
    return document


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_hostile_parameters(rpc: tuple[Rpc, dict[str, str]], action: str,
                            ctl_ctx: ServiceContext) -> None:
    caller, real = rpc

    @FUZZ
    @given(query=st.dictionaries(st.sampled_from(SMC_KEYS),
                                 st.one_of(SMC_VALUES, st.sampled_from(list(real.values()))),
                                 max_size=5))
    def run(query: dict[str, str]) -> None:
        before = counts(ctl_ctx)
        r = caller.post(action, query)
        document = assert_smc_shape(r)
        assert document.get("Code") not in ("InvalidTimeStamp.Expired", "IncompleteSignature")
        if r.status_code >= 400:
            assert counts(ctl_ctx) == before, (query, r.text)

    run()


@pytest.mark.parametrize("override", [
    {"authorization": "<drop>"}, {"authorization": "garbage"},
    {"authorization": "ACS3-HMAC-SHA256"},
    {"authorization": "ACS3-HMAC-SHA256 Credential=,SignedHeaders=,Signature="},
    {"authorization": "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=;;;,Signature=zz"},
    {"authorization": "HMAC-SHA1 Credential=a,SignedHeaders=host,Signature=00"},
    {"authorization": "ACS3-HMAC-SHA256 " + "A" * 20_000},
    {"x-acs-date": "yesterday"}, {"x-acs-date": "2001-01-01T00:00:00Z"},
    {"x-acs-version": "2000-01-01"}, {"x-acs-action": "<drop>"},
    {"x-acs-signature-nonce": "<drop>"}, {"x-acs-content-sha256": "00"},
    {"x-acs-action": "DeleteEverything"},
], ids=lambda o: "-".join(f"{k}:{v[:12]}" for k, v in o.items()))
def test_bad_signature_headers(rpc: tuple[Rpc, dict[str, str]], override: dict[str, str],
                               ctl_ctx: ServiceContext) -> None:
    caller, real = rpc
    before = counts(ctl_ctx)
    r = caller.post("DeleteReplicationJob", {"JobId": real["JobId"]}, **override)
    document = assert_smc_shape(r)
    assert r.status_code in (400, 401, 403, 404), document
    assert counts(ctl_ctx) == before


def test_wrong_secret_and_unknown_key(rpc: tuple[Rpc, dict[str, str]]) -> None:
    caller, _ = rpc
    wrong = Rpc(caller.client, caller.key_id, "not-the-secret", caller.ctx)
    assert assert_smc_shape(wrong.post("DescribeReplicationJobs", {}))["Code"] == (
        "SignatureDoesNotMatch")
    unknown = Rpc(caller.client, "RHNOPE", "x", caller.ctx)
    assert assert_smc_shape(unknown.post("DescribeReplicationJobs", {}))["Code"] == (
        "InvalidAccessKeyId.NotFound")


@pytest.mark.parametrize("body", [b"\xff\xfe", b"a=%FF", b"{}", b"x" * 2_000_000])
def test_unsigned_bodies(rpc: tuple[Rpc, dict[str, str]], body: bytes) -> None:
    caller, _ = rpc
    r = caller.client.post("/", content=body, headers={
        "content-type": "application/x-www-form-urlencoded",
        "x-acs-action": "DescribeReplicationJobs"})
    expected = "RequestBody.TooLarge" if len(body) > 1024 * 1024 else "IncompleteSignature"
    assert assert_smc_shape(r)["Code"] == expected


def _signed_form(caller: Rpc, body: bytes) -> dict[str, str]:
    """Headers of a V3-signed DescribeReplicationJobs with a form body."""
    headers = {
        "host": "testserver", "x-acs-action": "DescribeReplicationJobs",
        "x-acs-version": "2019-06-01", "content-type": "application/x-www-form-urlencoded",
        "x-acs-date": caller.ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    names = sorted(headers)
    data = CanonicalInput("POST", "/", (), group_headers(headers.items()),
                          headers["x-acs-content-sha256"])
    signature = sign(caller.secret, string_to_sign(canonical_request(data, names)))
    return {**headers, "authorization": authorization_header(caller.key_id, names, signature)}


@pytest.mark.parametrize("body", [b"PageSize=\xff\xfe", b"PageSize=%FF", b"Name=%C3%28&PageSize=1"])
def test_signed_form_that_is_not_utf8_is_400(rpc: tuple[Rpc, dict[str, str]],
                                             body: bytes) -> None:
    caller, _ = rpc
    r = caller.client.post("/", content=body, headers=_signed_form(caller, body))
    assert r.status_code == 400, r.text
    assert assert_smc_shape(r)["Code"] == "InvalidParameter.Body"


def test_signed_form_that_is_utf8_is_accepted(rpc: tuple[Rpc, dict[str, str]]) -> None:
    caller, _ = rpc
    r = caller.client.post("/", content=b"PageSize=5", headers=_signed_form(caller, b"PageSize=5"))
    assert r.status_code == 200, r.text
