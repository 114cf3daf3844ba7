"""The transit host's HTTP client trusts REHOST_CA_FILE / the profile's ca_file for https."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rehost.cli.transit import ca_file
from rehost.pki import create_ca, issue_transit_cert, transit_server_context
from rehost.transit.remote import HostApi, HostApiError


class _Beat(BaseHTTPRequestHandler):
    """Answers every POST with the path it was sent to and the Bearer token."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"path": self.path, "auth": self.headers["Authorization"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(https endpoint on 127.0.0.1, its CA file) served by a private CA."""
    now = dt.datetime.now(dt.UTC)
    ca = create_ca(now=now)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Beat)
    tls = transit_server_context(issue_transit_cert(ca, ["127.0.0.1"], now=now))
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", tmp_path / "ca.pem"
    finally:
        server.shutdown()
        server.server_close()


def test_host_api_trusts_the_ca_file(https_server: tuple[str, Path]) -> None:
    endpoint, ca = https_server
    api = HostApi(endpoint, "tok", verify=str(ca), timeout_s=5)
    try:
        doc = api.post("heartbeat")
    finally:
        api.close()
    assert doc == {"path": "/api/v1/transit-hosts/self/heartbeat", "auth": "Bearer tok"}
    untrusting = HostApi(endpoint, "tok", timeout_s=5)  # system trust: the private CA fails
    try:
        with pytest.raises(HostApiError) as caught:
            untrusting.post("heartbeat")
    finally:
        untrusting.close()
    assert caught.value.code == "ConnectionFailed" and "CERTIFICATE" in caught.value.message.upper()


def test_ca_file_from_env_else_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"profiles": {"edge": {"endpoint": "https://s:1",
                                                        "ca_file": "/p/ca.pem"}}}))
    monkeypatch.setenv("REHOST_CONFIG", str(config))
    monkeypatch.delenv("REHOST_CA_FILE", raising=False)
    assert ca_file("edge") == "/p/ca.pem" and ca_file("default") == ""
    monkeypatch.setenv("REHOST_CA_FILE", "/e/ca.pem")
    assert ca_file("edge") == "/e/ca.pem"
