"""Checks a V3-signed RPC request: headers present and signed, clock skew, key, signature, nonce."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rehost.api.smc import errors
from rehost.api.smc.nonces import NonceStore
from rehost.api.smc.signature import (
    ALGORITHM,
    Authorization,
    CanonicalInput,
    MalformedAuthorization,
    canonical_request,
    parse_authorization,
    sign,
    signatures_equal,
    string_to_sign,
)

MAX_SKEW = timedelta(minutes=15)
REQUIRED_HEADERS = ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce")
# every common header that is present must be signed (Alibaba Cloud V3 signature spec)
MUST_SIGN = ("host", "content-type")

SecretLookup = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class RawRequest:
    """The parts of an HTTP request a V3 signature covers."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, tuple[str, ...]]
    body: bytes


def header(request: RawRequest, name: str) -> str:
    """The first value of a header, or ''."""
    values = request.headers.get(name, ())
    return values[0].strip() if values else ""


def verify(
    request: RawRequest, *, lookup_secret: SecretLookup, nonces: NonceStore, now: datetime
) -> Authorization:
    """Return the request's Authorization if it is correctly signed; raise SmcError otherwise."""
    auth = _parse(request)
    for name in REQUIRED_HEADERS:
        if not header(request, name):
            raise errors.missing_parameter(name)
    _check_signed_set(request, auth)
    payload_sha256 = _check_payload(request)
    _check_date(header(request, "x-acs-date"), now=now)
    secret = lookup_secret(auth.access_key_id)
    if secret is None:
        raise errors.access_key_not_found()
    data = CanonicalInput(request.method, request.path, request.query, request.headers,
                          payload_sha256)
    to_sign = string_to_sign(canonical_request(data, auth.signed_headers))
    if not signatures_equal(sign(secret, to_sign), auth.signature):
        raise errors.signature_mismatch(to_sign)
    # the nonce is recorded only for authentic requests, so forgeries cannot burn nonces
    if not nonces.remember(auth.access_key_id, header(request, "x-acs-signature-nonce"), now=now):
        raise errors.nonce_used(header(request, "x-acs-signature-nonce"))
    return auth


def _parse(request: RawRequest) -> Authorization:
    value = header(request, "authorization")
    if not value:
        raise errors.incomplete_signature("no Authorization header")
    try:
        auth = parse_authorization(value)
    except MalformedAuthorization as exc:
        raise errors.incomplete_signature(f"Authorization {exc}") from exc
    if auth.algorithm != ALGORITHM:
        raise errors.incomplete_signature(f"unsupported algorithm {auth.algorithm}")
    return auth


def _check_signed_set(request: RawRequest, auth: Authorization) -> None:
    present = [n for n in request.headers if n.startswith("x-acs-") or n in MUST_SIGN]
    unsigned = sorted(n for n in present if n not in auth.signed_headers)
    if unsigned:
        raise errors.incomplete_signature(f"headers not signed: {', '.join(unsigned)}")
    absent = sorted(n for n in auth.signed_headers if n not in request.headers)
    if absent:
        raise errors.incomplete_signature(f"signed headers absent: {', '.join(absent)}")


def _check_payload(request: RawRequest) -> str:
    declared = header(request, "x-acs-content-sha256").lower()
    actual = hashlib.sha256(request.body).hexdigest()
    if declared and declared != actual:
        raise errors.SmcError(
            "SignatureDoesNotMatch",
            "x-acs-content-sha256 does not match the request body. "
            "x-acs-content-sha256 与请求体的 SHA-256 不一致。",
        )
    return actual


def _check_date(value: str, *, now: datetime) -> None:
    try:
        sent = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise errors.invalid_parameter(
            "x-acs-date", f"{value!r} is not yyyy-MM-ddTHH:mm:ssZ (UTC)",
            code="InvalidTimeStamp.Format",
        ) from exc
    if abs(now - sent) > MAX_SKEW:
        raise errors.timestamp_expired(value)
