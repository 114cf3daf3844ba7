"""Hand-signed RPC requests (ACS3-HMAC-SHA256) for replay and malformed-request tests."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx

from rehost.api.smc.signature import (
    CanonicalInput,
    authorization_header,
    canonical_request,
    group_headers,
    parse_query,
    sign,
    string_to_sign,
)


def signed_headers(*, host: str, action: str, query: dict[str, str], key_id: str, secret: str,
                   version: str = "2019-06-01", nonce: str = "",
                   date: datetime | None = None) -> dict[str, str]:
    """Headers of a V3-signed `POST /?query` with an empty body."""
    headers = {
        "host": host, "x-acs-action": action, "x-acs-version": version,
        "x-acs-date": (date or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
    }
    names = sorted(headers)
    data = CanonicalInput("POST", "/", parse_query(urlencode(query)),
                          group_headers(headers.items()), headers["x-acs-content-sha256"])
    signature = sign(secret, string_to_sign(canonical_request(data, names)))
    return {**headers, "authorization": authorization_header(key_id, names, signature)}


def post(endpoint: str, headers: dict[str, str], query: dict[str, str]) -> httpx.Response:
    """Send the signed request."""
    return httpx.post(f"{endpoint}/?{urlencode(query)}", headers=headers, timeout=10)
