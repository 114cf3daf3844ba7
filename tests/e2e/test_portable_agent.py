"""The portable agent end to end: the served rehost-agent.pyz, run by a Python that cannot
import the server stack, zstandard or xxhash, imports a disk image and migrates it to Finished
byte-identically over the stdlib data plane (blake2b-128 digests, zlib chunks)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from diskfactory import MIB, PartSpec, compare_disks, make_disk
from e2e.harness import REHOST, Agent, Server, wait_for
from rehost.agentdist.pyz import agent_artefact

BLOCKED = ("fastapi", "sqlalchemy", "pydantic", "httpx", "click", "zstandard", "xxhash",
           "cryptography", "uvicorn", "starlette")
LAUNCH = f"""
import importlib.abc, runpy, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
sys.path.insert(0, sys.argv[0])
import rehost
assert rehost.__file__.startswith(sys.argv[0]), rehost.__file__  # the pyz, not the checkout
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _pyz(server: Server, tmp_path: Path) -> list[str]:
    """Download the pyz from the server, check its digest; the argv prefix that runs it."""
    with urllib.request.urlopen(f"{server.endpoint}/agent/rehost-agent.pyz", timeout=30) as r:
        data, digest = r.read(), r.headers["X-Rehost-Agent-SHA256"]
    assert digest == agent_artefact().sha256
    path = tmp_path / "rehost-agent.pyz"
    path.write_bytes(data)
    return [sys.executable, "-c", LAUNCH, str(path)]


@pytest.mark.slow
def test_served_pyz_migrates_an_image_to_finished(
    start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    source = make_disk(tmp_path / "disk", name="portable.img", size_mib=1024, table="mbr",
                       parts=(PartSpec(fs="ext4", size_mib=96, files_bytes=16 * MIB,
                                       os_release=True, label="root"),), seed=7)
    server = start_server()
    pyz = _pyz(server, tmp_path)
    state_dir = tmp_path / "agent"
    done = subprocess.run([*pyz, "import", "--endpoint", server.endpoint,
                           "--code", server.activation_code(), "--system-disk", str(source.path),
                           "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    source_id = done.stdout.split("[", 1)[1].split("]", 1)[0]
    agent = Agent(state_dir, source_id, server)
    server.agents.append(agent)
    agent.proc.argv = [*pyz, "run", "--state-dir", str(state_dir), "--poll-interval", "0.25"]
    agent.proc.start()  # before the slow checks: 3 missed heartbeats make the source Unavailable
    _check_preflight_reported(server, source_id, done.stdout)  # heartbeats keep the report
    wait_for(lambda: server.client.get_source(source_id)["state"] == "Available" or None,
             timeout_s=30, what="the source back Available after the agent's heartbeat")
    job_id = server.create_job(source_id, system_disk_size=1, compress_level=3)
    finished = server.wait_job(job_id, {"Finished"}, timeout_s=240)
    image = server.image_disks(str(finished["image_id"]))[0]
    assert image.stat().st_size == source.size_bytes
    assert compare_disks(source, image) == []
    assert "data plane: digest blake2b-128, codec zlib" in agent.proc.log_path.read_text()


def _check_preflight_reported(server: Server, source_id: str, import_stdout: str) -> None:
    """The import printed its pre-flight report and sent it: REST and the CLI show it."""
    report = server.client.get_source(source_id)["preflight"]
    by_name = {c["name"]: c["level"] for c in report}
    assert by_name["server"] == "OK" and by_name["root"] in ("OK", "FAIL")
    assert any(n.startswith("disk ") for n in by_name)
    assert f"{by_name['server']:<4} server: " in import_stdout
    described = subprocess.run(
        [REHOST, "source", "describe", source_id], env={**os.environ, **server.cli_env},
        capture_output=True, text=True, timeout=60, check=False)
    assert described.returncode == 0, described.stderr
    line = next(x for x in described.stdout.splitlines() if x.startswith("preflight"))
    assert "OK server" in line
