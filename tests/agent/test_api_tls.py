"""The API's HTTPS (uvicorn) has the data port's policy: TLS 1.2 with ECDHE + AES-GCM as the
floor, TLS 1.3 preferred, CBC suites refused."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest

from rehost.agent.tls import pinned_client_context
from rehost.pki import create_ca, issue_transit_cert
from rehost.server import uvicorn_config

from .test_tls_floor import _handshake


@pytest.fixture(scope="module")
def api_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, ssl.SSLContext]:
    """The CA and the SSL context uvicorn builds for `rehost server --tls`."""
    now = dt.datetime.now(dt.UTC)
    ca = create_ca(now=now)
    cert = issue_transit_cert(ca, ["127.0.0.1"], now=now)
    directory = tmp_path_factory.mktemp("api-tls")
    cert_file, key_file = directory / "api.crt", directory / "api.key"
    cert_file.write_bytes(cert.cert_pem)
    key_file.write_bytes(cert.key_pem)
    config = uvicorn_config(object(), host="127.0.0.1", port=0, log_level="warning",
                            tls=(Path(cert_file), Path(key_file)))
    config.load()
    assert config.ssl is not None
    return ca.cert_pem, config.ssl


def test_api_client_capped_at_tls12_gets_ecdhe_aes_gcm(
        api_tls: tuple[bytes, ssl.SSLContext]) -> None:
    ca_pem, server = api_tls
    client = pinned_client_context(ca_pem)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = _handshake(client, server)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and "GCM" in cipher


def test_api_prefers_tls13(api_tls: tuple[bytes, ssl.SSLContext]) -> None:
    ca_pem, server = api_tls
    assert _handshake(pinned_client_context(ca_pem), server)[0] == "TLSv1.3"


def test_api_refuses_cbc_suites_and_tls11(api_tls: tuple[bytes, ssl.SSLContext]) -> None:
    ca_pem, server = api_tls
    cbc = pinned_client_context(ca_pem)
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE+AES128+SHA256:ECDHE+AES256+SHA384:-AESGCM")
    with pytest.raises(ssl.SSLError):
        _handshake(cbc, server)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cadata=ca_pem.decode())
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        _handshake(old, server)
