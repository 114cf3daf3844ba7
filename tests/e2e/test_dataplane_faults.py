"""Faults at about half way: agent kill -9, server kill -9, dropped link, corrupted bytes, pause.

Every fault test migrates the ~200 MiB `e2e_big_disk` through a counting TCP relay and proves
(1) the job ends Finished, (2) the image is byte-identical to the source, and (3) the bytes
re-sent (relay bytes minus a clean run's relay bytes) are at most one in-flight window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from diskfactory import BuiltDisk, compare_disks
from e2e.harness import Agent, Server, wait_for
from rehost.agent.sendspec import SendSpec

WINDOW_BYTES = SendSpec(host="", port=0, token="", agent_id="", ca_pem=b"", disks=()).window_bytes
HANDSHAKES_SLACK = 1 << 20  # TLS handshakes and HELLO frames of the extra connections
LIMIT_KBPS = 40 * 1024  # ~5 s for the big disk: a half-way point to hit

pytestmark = pytest.mark.slow


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A clean migration of the big disk: bytes on the wire and the plan total."""

    wire_bytes: int
    plan_bytes: int


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, e2e_big_disk: BuiltDisk) -> Baseline:
    """Migrate the big disk once without faults (and check the image) to count its wire bytes."""
    work = tmp_path_factory.mktemp("baseline")
    server = Server(work / "srv", relay=True).start()
    try:
        _agent, job_id = _start(server, work, e2e_big_disk, limit_kbps=0)
        doc = server.wait_job(job_id, {"Finished"}, timeout_s=180)
        assert compare_disks(e2e_big_disk, server.image_disks(doc["image_id"])[0]) == []
        assert server.relay is not None and server.relay.connections >= 1
        return Baseline(server.relay.up_bytes, int(doc["bytes_total"]))
    finally:
        server.close()


def _start(server: Server, tmp_path: Path, disk: BuiltDisk, *,
           limit_kbps: int = LIMIT_KBPS) -> tuple[Agent, str]:
    agent = server.import_agent(tmp_path / "agent", system_disk=disk.path).start()
    return agent, server.create_job(agent.source_id, bandwidth_limit=limit_kbps)


def _finish(server: Server, job_id: str, disk: BuiltDisk, baseline: Baseline) -> int:
    """Wait Finished, compare the image, return the bytes re-sent (checked ≤ one window)."""
    doc = server.wait_job(job_id, {"Finished"}, timeout_s=240)
    assert int(doc["bytes_done"]) == int(doc["bytes_total"]) > 0
    assert compare_disks(disk, server.image_disks(doc["image_id"])[0]) == []
    assert server.relay is not None
    resent = server.relay.up_bytes - baseline.wire_bytes
    print(f"re-sent {resent} bytes (window {WINDOW_BYTES})")
    assert resent <= WINDOW_BYTES + HANDSHAKES_SLACK
    return resent


def _half_way(server: Server, job_id: str, baseline: Baseline) -> dict[str, Any]:
    """Wait for 50 % durable progress; a restart from zero would re-send more than a window."""
    doc = server.wait_progress(job_id, 0.5, timeout_s=120)
    assert int(doc["bytes_done"]) > WINDOW_BYTES + HANDSHAKES_SLACK
    assert doc["bytes_done"] < doc["bytes_total"], "the fault came too late"
    return doc


def test_agent_kill9_half_way_resumes(
    start_server: Callable[..., Server], tmp_path: Path, e2e_big_disk: BuiltDisk,
    baseline: Baseline,
) -> None:
    server = start_server(relay=True)
    agent, job_id = _start(server, tmp_path, e2e_big_disk)
    _half_way(server, job_id, baseline)
    agent.kill()
    assert server.job(job_id)["status"] == "Running"
    agent.start()
    _finish(server, job_id, e2e_big_disk, baseline)


def test_server_kill9_half_way_resumes(
    start_server: Callable[..., Server], tmp_path: Path, e2e_big_disk: BuiltDisk,
    baseline: Baseline,
) -> None:
    server = start_server(relay=True)
    agent, job_id = _start(server, tmp_path, e2e_big_disk)
    _half_way(server, job_id, baseline)
    server.kill()  # the embedded transit dies with it
    assert agent.proc.alive
    server.restart()
    doc = server.wait_job(job_id, {"Running", "Finished"}, timeout_s=30)
    assert doc["run_count"] == 1  # the same run continues, no restart by hand
    _finish(server, job_id, e2e_big_disk, baseline)
    assert server.relay is not None and server.relay.connections > 2  # the agent reconnected


def test_dropped_connection_half_way_resumes(
    start_server: Callable[..., Server], tmp_path: Path, e2e_big_disk: BuiltDisk,
    baseline: Baseline,
) -> None:
    server = start_server(relay=True)
    assert server.relay is not None
    server.relay.drop_at(baseline.wire_bytes // 2)
    _agent, job_id = _start(server, tmp_path, e2e_big_disk)
    _finish(server, job_id, e2e_big_disk, baseline)
    assert server.relay.drops == 1 and server.relay.connections > 2


def test_corrupted_bytes_on_the_wire_are_resent(
    start_server: Callable[..., Server], tmp_path: Path, e2e_big_disk: BuiltDisk,
    baseline: Baseline,
) -> None:
    server = start_server(relay=True)
    assert server.relay is not None
    server.relay.corrupt_at(baseline.wire_bytes // 2)
    _agent, job_id = _start(server, tmp_path, e2e_big_disk)
    _finish(server, job_id, e2e_big_disk, baseline)
    assert server.relay.corruptions == 1
    assert server.relay.connections > 2  # TLS rejected the record; the agent reconnected


def test_pause_while_syncing_keeps_transit_and_resumes(
    start_server: Callable[..., Server], tmp_path: Path, e2e_big_disk: BuiltDisk,
    baseline: Baseline,
) -> None:
    server = start_server(relay=True)
    _agent, job_id = _start(server, tmp_path, e2e_big_disk)
    half = _half_way(server, job_id, baseline)
    server.client.pause_job(job_id)
    paused = server.wait_job(job_id, {"Stopped"}, timeout_s=15)
    transit = server.transits_dir() / str(paused["transit_id"])
    assert transit.is_dir() and any(transit.iterdir())  # the transit and its journal are kept
    assert server.relay is not None
    wait_for(lambda: _quiet_for(server, 1.0), timeout_s=20, what="the agent to stop sending")
    started = server.client.start_job(job_id)
    assert started["transit_id"] == paused["transit_id"] and started["run_count"] == 2
    assert int(started["bytes_done"]) >= int(half["bytes_done"])  # not from zero
    _finish(server, job_id, e2e_big_disk, baseline)


def _quiet_for(server: Server, seconds: float) -> bool:
    """True when no byte crossed the relay for `seconds`."""
    import time

    assert server.relay is not None
    before = server.relay.up_bytes
    time.sleep(seconds)
    return server.relay.up_bytes == before
