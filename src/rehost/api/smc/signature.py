"""ACS3-HMAC-SHA256 (Alibaba Cloud V3) canonical request and signature, pure functions."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()


class MalformedAuthorization(ValueError):
    """The Authorization header lacks the algorithm, Credential, SignedHeaders or Signature."""


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parsed Authorization header of a V3-signed request."""

    algorithm: str
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True, slots=True)
class CanonicalInput:
    """What a signature covers: method, path, query, headers (lower-case), payload hash."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, tuple[str, ...]]
    payload_sha256: str


def parse_authorization(value: str) -> Authorization:
    """Parse an Authorization header value; raise MalformedAuthorization when incomplete."""
    algorithm, _, rest = value.strip().partition(" ")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            fields[key.strip()] = val.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if not algorithm or missing:
        raise MalformedAuthorization(f"missing {', '.join(missing) or 'algorithm'}")
    headers = tuple(h.strip().lower() for h in fields["SignedHeaders"].split(";") if h.strip())
    return Authorization(algorithm, fields["Credential"], headers, fields["Signature"].lower())


def parse_query(raw_query: str) -> tuple[tuple[str, str], ...]:
    """Decode a raw query string into (name, value) pairs, keeping blank values."""
    return tuple(parse_qsl(raw_query, keep_blank_values=True))


def group_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Group header pairs by lower-case name, keeping repeated values."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name.lower(), []).append(value)
    return {name: tuple(values) for name, values in grouped.items()}


def percent_encode(text: str) -> str:
    """RFC 3986 encoding as the V3 spec requires (only unreserved characters stay)."""
    return quote(text, safe="~", encoding="utf-8")


def canonical_query(pairs: Sequence[tuple[str, str]]) -> str:
    """Sorted, percent-encoded `name=value` pairs joined by `&`."""
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_headers(headers: Mapping[str, tuple[str, ...]], signed: Sequence[str]) -> str:
    """`name:value\\n` for each signed header; repeated values sorted and joined by commas."""
    lines = []
    for name in signed:
        values = sorted(v.strip() for v in headers.get(name, ()))
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def canonical_request(data: CanonicalInput, signed_headers: Sequence[str]) -> str:
    """The canonical request string of the V3 signature."""
    return "\n".join(
        [
            data.method.upper(),
            data.path or "/",
            canonical_query(data.query),
            canonical_headers(data.headers, signed_headers),
            ";".join(signed_headers),
            data.payload_sha256,
        ]
    )


def string_to_sign(canonical: str) -> str:
    """`ACS3-HMAC-SHA256\\n` + hex sha256 of the canonical request."""
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def sign(secret: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign under the AccessKey secret."""
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_header(access_key_id: str, signed_headers: Sequence[str], signature: str) -> str:
    """Format the Authorization header value."""
    joined = ";".join(signed_headers)
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={joined},Signature={signature}"


def signatures_equal(expected: str, given: str) -> bool:
    """Constant-time comparison of two hex signatures."""
    return hmac.compare_digest(expected.encode("ascii", "replace"),
                               given.encode("ascii", "replace"))
