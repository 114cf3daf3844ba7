"""`curl …/agent/install.sh | sh`: installs, leaves a unit whose ExecStart brings the source
online; a wrong digest, an unreachable/changed-CA download or Python 2.7 fail in one line and
leave nothing installed."""

from __future__ import annotations

import os
import shlex
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.harness import Agent, Server, wait_for


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


@pytest.mark.slow
def test_bad_digest_changed_ca_and_python27_fail_cleanly(
    start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    server = start_server()
    script = _script(server)
    sha = script.split("SHA256='", 1)[1].split("'", 1)[0]
    bad_digest = _sh(script.replace(sha, "0" * 64), ["--code", "at-x:y"], _env(tmp_path))
    # a TLS failure of the download (what a changed server CA gives curl --cacert)
    changed_ca = _sh(script.replace("ENDPOINT='http://", "ENDPOINT='https://"),
                     ["--code", "at-x:y"], _env(tmp_path))
    fake = tmp_path / "py27"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\n[ \"$1\" = -V ] && echo 'Python 2.7.18'\nexit 1\n")
    (fake / "python3").chmod(0o755)
    old = _sh(script, ["--code", "at-x:y"],
              _env(tmp_path, PATH=f"{fake}:{os.environ['PATH']}"))
    for result, words in ((bad_digest, "digest"), (changed_ca, "CA"), (old, "Python 2.7.18")):
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], result.stderr
    assert not (tmp_path / "opt").exists() and not (tmp_path / "state").exists()
