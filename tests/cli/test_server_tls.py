"""`rehost server --tls`: the API over HTTPS with a certificate from the server CA."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rehost.client import ClientError, RehostClient


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A real `rehost server --tls` on loopback: (endpoint, CA file, admin credentials)."""
    data, port = tmp_path / "data", _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rehost.cli.main", "server", "--tls", "--data-dir", str(data),
         "--listen", f"127.0.0.1:{port}", "--data-listen", f"127.0.0.1:{_free_port()}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint, ca = f"https://127.0.0.1:{port}", data / "pki" / "ca.pem"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/api/v1/openapi.json", timeout=1,
                          verify=ssl.create_default_context(cafile=ca) if ca.exists() else False)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        creds = json.loads((data / "admin-credentials.json").read_text())
        yield endpoint, ca, creds
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_api_is_served_over_https_trusted_through_the_server_ca(
    tls_server: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    endpoint, ca, creds = tls_server
    with RehostClient(endpoint, creds["access_key_id"], creds["access_key_secret"],
                      verify=str(ca)) as client:
        assert client.list_regions()["regions"][0]["region_id"] == "local"
    with pytest.raises(ClientError), RehostClient(  # the system trust store does not know it
            endpoint, creds["access_key_id"], creds["access_key_secret"]) as untrusted:
        untrusted.list_regions()
    with pytest.raises(httpx.HTTPError):  # plain HTTP is not served
        httpx.get(endpoint.replace("https://", "http://") + "/api/v1/openapi.json", timeout=2)
    key = Path(ca).with_name("api-key.pem")
    assert key.exists() and os.stat(key).st_mode & 0o077 == 0


def test_agent_imports_and_beats_over_https(
    tls_server: tuple[str, Path, dict[str, str]]
) -> None:
    from rehost.client import AgentClient
    from smc.inventory import inventory

    endpoint, ca, creds = tls_server
    with RehostClient(endpoint, creds["access_key_id"], creds["access_key_secret"],
                      verify=str(ca)) as client:
        code = client.create_activation_code(count=1)
    agent = AgentClient(endpoint, verify=str(ca))
    try:
        doc = agent.import_source(code_id=str(code["code_id"]), code=str(code["code"]),
                                  inventory=inventory("tls-host"))
        assert str(doc["source_id"]).startswith("s-")
        assert doc["server_ca_pem"].strip() == ca.read_text().strip()
    finally:
        agent.close()
    beating = AgentClient(endpoint, token=str(doc["agent_token"]), verify=str(ca))
    try:
        assert beating.heartbeat()["state"] == "Available"
    finally:
        beating.close()
