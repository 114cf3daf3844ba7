"""TLS for the agent's data connections: TLS 1.2 (ECDHE + AES-GCM) floor, 1.3 preferred.

Standard library only and Python 3.6 compatible: `ssl.TLSVersion` arrived in 3.7, so older
interpreters get the floor through the `OP_NO_*` options instead.
"""

import ssl

from rehost.protocol.dataroute import route_alpn

# TLS 1.2 suites the floor allows (TLS 1.3 suites are configured separately by OpenSSL)
TLS12_CIPHERS = "ECDHE+AESGCM"


def set_tls12_floor(ctx: "ssl.SSLContext") -> None:
    """Refuse anything below TLS 1.2 and any TLS 1.2 suite other than ECDHE + AES-GCM."""
    versions = getattr(ssl, "TLSVersion", None)
    if versions is not None:
        ctx.minimum_version = versions.TLSv1_2
    else:  # Python 3.6
        ctx.options |= ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3 | ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1
    ctx.set_ciphers(TLS12_CIPHERS)


def pinned_client_context(ca_pem: bytes) -> "ssl.SSLContext":
    """Client context trusting only the CA the agent stored at import (hostname checked)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    set_tls12_floor(ctx)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
    return ctx


def offer_route(ctx: "ssl.SSLContext", token: str) -> None:
    """Name the job's route in the ClientHello (a data port of several receiver processes)."""
    if getattr(ssl, "HAS_ALPN", False):  # without ALPN the port's first receiver serves it
        ctx.set_alpn_protocols([route_alpn(token)])
