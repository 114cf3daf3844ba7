"""`curl …/agent/install.sh | sh`: installs, leaves a unit whose ExecStart brings the source
online; a wrong digest, an unreachable/changed-CA download or Python 2.7 fail in one line and
leave nothing installed."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import os
import shlex
import ssl
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.harness import Agent, Server, wait_for
from rehost.pki import create_ca, issue_transit_cert, transit_server_context


def _script(server: Server) -> str:
    with urllib.request.urlopen(f"{server.endpoint}/agent/install.sh", timeout=30) as r:
        return str(r.read().decode())


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "REHOST_AGENT_PREFIX": str(tmp_path / "opt"),
            "REHOST_AGENT_STATE": str(tmp_path / "state"),
            "REHOST_AGENT_UNIT_DIR": str(tmp_path / "units"),
            "REHOST_AGENT_INIT_DIR": str(tmp_path / "init.d"), **extra}


def _sh(script: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-s", "--", *args], input=script, capture_output=True,
                          text=True, env=env, timeout=120, check=False)


@pytest.mark.slow
def test_install_sh_leaves_a_unit_that_brings_the_source_online(
    start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    server = start_server()
    done = _sh(_script(server), ["--code", server.activation_code(), "--no-start"],
               _env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "opt" / "rehost-agent.pyz").is_file()
    unit = (tmp_path / "units" / "rehost-agent.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    source_id = done.stdout.split("[", 1)[1].split("]", 1)[0]
    agent = Agent(tmp_path / "state", source_id, server)
    server.agents.append(agent)
    agent.proc.argv = shlex.split(exec_start.removeprefix("ExecStart="))
    agent.proc.start()
    wait_for(lambda: server.client.get_source(source_id)["state"] == "Available",
             timeout_s=60, what="source Available")
    removed = _sh(_script(server), ["--uninstall"], _env(tmp_path))
    assert removed.returncode == 0, removed.stderr
    assert not (tmp_path / "opt").exists() and not (tmp_path / "units" / "rehost-agent.service"
                                                    ).exists()


@contextlib.contextmanager
def _https_server_of_another_ca(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server whose certificate a new CA issued, and the old CA's file (the pin)."""
    now = dt.datetime.now(dt.UTC)
    old_ca, new_ca = create_ca(now=now), create_ca(now=now)
    pin = tmp_path / "old-ca.pem"
    pin.write_bytes(old_ca.cert_pem)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    ctx: ssl.SSLContext = transit_server_context(issue_transit_cert(new_ca, ["127.0.0.1"], now=now))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", pin
    finally:
        httpd.shutdown()
        httpd.server_close()


def _fake_python(tmp_path: Path, version: str) -> dict[str, str]:
    """PATH with a python3 that reports version and cannot run Python 3 code."""
    fake = tmp_path / f"py-{version}"
    fake.mkdir()
    (fake / "python3").write_text(f"#!/bin/sh\n[ \"$1\" = -V ] && echo 'Python {version}'\n"
                                  "exit 1\n")
    (fake / "python3").chmod(0o755)
    return _env(tmp_path, PATH=f"{fake}:{os.environ['PATH']}")


@pytest.mark.slow
def test_bad_digest_changed_ca_and_old_pythons_fail_cleanly(
    start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    server = start_server()
    script = _script(server)
    sha = script.split("SHA256='", 1)[1].split("'", 1)[0]
    code = ["--code", server.activation_code()]
    bad_digest = _sh(script.replace(sha, "0" * 64), code, _env(tmp_path))
    with _https_server_of_another_ca(tmp_path) as (url, old_pin):
        moved = script.replace(f"ENDPOINT='{server.endpoint}'", f"ENDPOINT='{url}'")
        changed_ca = _sh(moved, [*code, "--ca-file", str(old_pin)], _env(tmp_path))
    py27 = _sh(script, code, _fake_python(tmp_path, "2.7.18"))
    py35 = _sh(script, code, _fake_python(tmp_path, "3.5.10"))
    for result, words in ((bad_digest, "digest"), (changed_ca, "changed server CA"),
                          (py27, "Python 2.7.18"), (py35, "Python 3.5.10")):
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "安装失败" in lines[0], result.stderr
    for left in ("opt", "state", "units", "init.d"):
        assert not (tmp_path / left).exists(), f"{left} was left half-installed"
    assert server.client.list_sources()["total_count"] == 0  # nothing was registered either
