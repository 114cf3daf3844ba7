"""Which receiver process of a data port serves a connection: a route name in the TLS ALPN list.

The agent offers `rehost-route.<key>` in its ClientHello, where the key is derived from the
job's data token (a digest: the token itself never leaves TLS). A data port run by several
receiver processes reads the offer before the handshake and hands every connection of one job
to the same process. A transit that does not look ignores it: no ALPN name is ever selected.
"""

import hashlib
from typing import Optional, Sequence

ROUTE_PREFIX = "rehost-route."
ROUTE_KEY_CHARS = 24


def route_key(token: str) -> str:
    """The route key of a job data token (hex, not reversible to the token)."""
    digest = hashlib.sha256(b"rehost data route\0" + token.encode("utf-8")).hexdigest()
    return digest[:ROUTE_KEY_CHARS]


def route_alpn(token: str) -> str:
    """The ALPN name the agent offers for the job of `token`."""
    return ROUTE_PREFIX + route_key(token)


def offered_route(names: "Sequence[str]") -> "Optional[str]":
    """The route key among offered ALPN names, or None (an agent that names none)."""
    for name in names:
        key = name[len(ROUTE_PREFIX):]
        if (name.startswith(ROUTE_PREFIX) and len(key) == ROUTE_KEY_CHARS
                and all(c in "0123456789abcdef" for c in key)):
            return key
    return None
