"""rehost-agent.pyz: reproducible, served with its digest, runs under `python3 -I -S`."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rehost import __version__
from rehost.agentdist.pyz import agent_artefact, build_artefact
from rehost.api.app import create_app
from rehost.services.context import ServiceContext


@pytest.fixture
def client(ctl_ctx: ServiceContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx)) as c:
        yield c


def test_build_is_reproducible_and_holds_only_the_agent_closure() -> None:
    first, second = build_artefact(), build_artefact()
    assert first.sha256 == second.sha256 == hashlib.sha256(first.data).hexdigest()
    assert first.data.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(io.BytesIO(first.data)) as archive:
        names = set(archive.namelist())
    assert {"__main__.py", "rehost/agent/cli.py", "rehost/wire.py",
            "rehost/diskfmt/plan.py"} <= names
    assert not {n for n in names if n.startswith(("rehost/api", "rehost/services",
                                                  "rehost/cli/", "rehost/client.py"))}


def test_pyz_runs_isolated_without_site_packages(tmp_path: Path) -> None:
    pyz = tmp_path / "rehost-agent.pyz"
    pyz.write_bytes(build_artefact().data)
    version = subprocess.run([sys.executable, "-I", "-S", str(pyz), "version"],
                             capture_output=True, text=True, timeout=60, check=False)
    assert (version.returncode, version.stdout.strip()) == (0, __version__), version.stderr
    bad = subprocess.run([sys.executable, "-I", "-S", str(pyz), "import", "--endpoint",
                          "http://127.0.0.1:9", "--code", "no-colon"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert "CODE_ID:CODE" in bad.stderr and "Traceback" not in bad.stderr


def test_server_serves_the_pyz_with_its_digest(client: TestClient) -> None:
    art = agent_artefact()
    got = client.get("/agent/rehost-agent.pyz")
    assert got.status_code == 200
    assert got.content == art.data
    assert got.headers["x-rehost-agent-sha256"] == hashlib.sha256(got.content).hexdigest()
    assert got.headers["x-rehost-agent-version"] == __version__
    digest = client.get("/agent/rehost-agent.pyz.sha256")
    assert digest.text == f"{art.sha256}  rehost-agent.pyz\n"
