"""The data port's TLS: a client capped at TLS 1.2 negotiates ECDHE + AES-GCM; 1.3 preferred."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading

import pytest

from rehost.agent.tls import pinned_client_context
from rehost.pki import create_ca, issue_transit_cert, transit_server_context


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext) -> tuple[str | None, str]:
    """(TLS version, cipher name) the pair agrees on over a loopback socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    errors: list[BaseException] = []

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            version, cipher = tls.version(), tls.cipher()[0]
            tls.sendall(b"x")
    finally:
        thread.join(5)
        listener.close()
    assert not errors
    return version, cipher


@pytest.fixture(scope="module")
def contexts() -> tuple[bytes, ssl.SSLContext]:
    now = dt.datetime.now(dt.UTC)
    ca = create_ca(now=now)
    return ca.cert_pem, transit_server_context(issue_transit_cert(ca, ["127.0.0.1"], now=now))


def test_client_capped_at_tls12_negotiates_ecdhe_aes_gcm(
        contexts: tuple[bytes, ssl.SSLContext]) -> None:
    ca_pem, server = contexts
    client = pinned_client_context(ca_pem)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = _handshake(client, server)
    assert version == "TLSv1.2"
    assert cipher.startswith("ECDHE-") and "GCM" in cipher


def test_tls13_is_preferred(contexts: tuple[bytes, ssl.SSLContext]) -> None:
    ca_pem, server = contexts
    assert _handshake(pinned_client_context(ca_pem), server)[0] == "TLSv1.3"


def test_tls11_and_cbc_suites_are_refused(contexts: tuple[bytes, ssl.SSLContext]) -> None:
    ca_pem, server = contexts
    client = pinned_client_context(ca_pem)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers("ECDHE+AES128+SHA256:ECDHE+AES256+SHA384:-AESGCM")  # CBC only
    with pytest.raises(ssl.SSLError):
        _handshake(client, server)


def test_client_refuses_a_foreign_ca(contexts: tuple[bytes, ssl.SSLContext]) -> None:
    _, server = contexts
    other = create_ca(now=dt.datetime.now(dt.UTC))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(pinned_client_context(other.cert_pem), server)
