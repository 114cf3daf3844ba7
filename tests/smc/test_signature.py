"""ACS3-HMAC-SHA256 verification, cross-checked against the official SDK's signer."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from alibabacloud_tea_openapi.utils import Utils

from rehost.api.smc import auth
from rehost.api.smc.errors import SmcError
from rehost.api.smc.nonces import MemoryNonceStore
from rehost.api.smc.signature import (
    canonical_query,
    group_headers,
    parse_authorization,
    parse_query,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
AK, SECRET = "RHTESTKEY0001", "s3cr3t-value"


def sdk_signed(query: dict[str, str], body: bytes = b"", *, date: datetime = NOW,
               nonce: str = "n-1", secret: str = SECRET) -> auth.RawRequest:
    """A request signed by the SDK's own `get_authorization`, as the server would receive it."""
    headers = {
        "host": "127.0.0.1:8080",
        "x-acs-version": "2019-06-01",
        "x-acs-action": "DescribeSourceServers",
        "user-agent": "AlibabaCloud (test)",
        "x-acs-date": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce,
        "accept": "application/json",
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    req = SimpleNamespace(method="POST", pathname="/", query=query, headers=headers)
    headers["Authorization"] = Utils.get_authorization(
        req, "ACS3-HMAC-SHA256", headers["x-acs-content-sha256"], AK, secret
    )
    raw_query = "&".join(f"{k}={v}" for k, v in _encoded(query))
    return auth.RawRequest("POST", "/", parse_query(raw_query), group_headers(headers.items()),
                           body)


def _encoded(query: dict[str, str]) -> list[tuple[str, str]]:
    from urllib.parse import quote
    return [(quote(k, safe=""), quote(v, safe="")) for k, v in query.items()]


def check(request: auth.RawRequest, *, nonces: MemoryNonceStore | None = None,
          now: datetime = NOW) -> str:
    """Verify and return the AccessKey id, or raise SmcError."""
    store = nonces or MemoryNonceStore()
    found = auth.verify(request, lookup_secret={AK: SECRET}.get, nonces=store, now=now)
    return found.access_key_id


def code_of(request: auth.RawRequest, **kwargs: object) -> str:
    with pytest.raises(SmcError) as info:
        check(request, **kwargs)  # type: ignore[arg-type]
    return info.value.code


def test_sdk_signature_verifies_with_special_characters() -> None:
    query = {"Name": "迁移 job~1/a+b", "DataDisk.1.Size": "20", "Empty": "", "Tag.1.Key": "x y"}
    assert check(sdk_signed(query, b"Description=%E4%B8%AD")) == AK


def test_canonical_query_sorts_and_encodes() -> None:
    assert canonical_query([("b", "1 2"), ("a", "~*/")]) == "a=~%2A%2F&b=1%202"


def test_wrong_secret_is_signature_mismatch() -> None:
    assert code_of(sdk_signed({"A": "1"}, secret="other")) == "SignatureDoesNotMatch"


def test_tampered_query_is_signature_mismatch() -> None:
    request = sdk_signed({"JobId": "j-1"})
    tampered = replace(request, query=(("JobId", "j-2"),))
    assert code_of(tampered) == "SignatureDoesNotMatch"


def test_tampered_body_is_refused() -> None:
    request = sdk_signed({}, b"Name=a")
    assert code_of(replace(request, body=b"Name=b")) == "SignatureDoesNotMatch"


def test_unknown_access_key() -> None:
    request = sdk_signed({})
    with pytest.raises(SmcError) as info:
        auth.verify(request, lookup_secret=lambda _: None, nonces=MemoryNonceStore(), now=NOW)
    assert (info.value.code, info.value.http_status) == ("InvalidAccessKeyId.NotFound", 404)


def test_replayed_nonce_is_refused_and_fresh_nonce_accepted() -> None:
    store = MemoryNonceStore()
    check(sdk_signed({}, nonce="same"), nonces=store)
    assert code_of(sdk_signed({}, nonce="same"), nonces=store) == "SignatureNonceUsed"
    assert check(sdk_signed({}, nonce="other"), nonces=store) == AK


def test_forged_request_does_not_burn_the_nonce() -> None:
    store = MemoryNonceStore()
    code_of(sdk_signed({}, nonce="n", secret="forged"), nonces=store)
    assert check(sdk_signed({}, nonce="n"), nonces=store) == AK


@pytest.mark.parametrize("skew_min, ok", [(-14, True), (14, True), (-16, False), (16, False)])
def test_clock_skew_limit_is_15_minutes(skew_min: int, ok: bool) -> None:
    request = sdk_signed({}, date=NOW + timedelta(minutes=skew_min))
    if ok:
        assert check(request) == AK
    else:
        assert code_of(request) == "InvalidTimeStamp.Expired"


def test_missing_authorization_is_incomplete_signature() -> None:
    request = sdk_signed({})
    headers = {k: v for k, v in request.headers.items() if k != "authorization"}
    assert code_of(replace(request, headers=headers)) == "IncompleteSignature"


def test_unsigned_x_acs_header_is_incomplete_signature() -> None:
    request = sdk_signed({})
    headers = {**request.headers, "x-acs-extra": ("1",)}
    assert code_of(replace(request, headers=headers)) == "IncompleteSignature"


def test_missing_nonce_is_missing_parameter() -> None:
    request = sdk_signed({})
    headers = {k: v for k, v in request.headers.items() if k != "x-acs-signature-nonce"}
    assert code_of(replace(request, headers=headers)) == "MissingParameter"


def test_parse_authorization_fields() -> None:
    parsed = parse_authorization(
        "ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host;x-acs-date,Signature=ABCD"
    )
    assert parsed.signed_headers == ("host", "x-acs-date")
    assert (parsed.access_key_id, parsed.signature) == ("AK1", "abcd")
