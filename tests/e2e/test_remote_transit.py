"""`rehost transit run` on another loopback address: a region's jobs go through that host."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from diskfactory import BuiltDisk, compare_disks
from e2e.harness import REHOST, Proc, Server, free_port, wait_for
from rehost.transit.remote import HostApi, HostApiError

HOST_IP = "127.0.0.3"
REGION = "edge"
LIMIT_KBPS = 3072  # slow enough to pause the sync part way


def start_host(server: Server, work: Path, *,
               env: dict[str, str] | None = None) -> tuple[Proc, str]:
    """`rehost transit run` on 127.0.0.3 with its own work dir and image store; wait Online."""
    port = free_port(HOST_IP)
    code = server.client.create_host_code(region_id=REGION, host_name=HOST_IP)
    argv = [REHOST, "transit", "run", "--endpoint", server.endpoint, "--region", REGION,
            "--registration-code", str(code["registration_code"]),
            "--data-listen", f"{HOST_IP}:{port}", "--advertise", HOST_IP,
            "--work-dir", str(work / "work"), "--image-store", str(work / "store"),
            "--state-dir", str(work / "state"), "--name", "edge-1", "--poll-interval", "0.2"]
    proc = Proc("transit host", argv, work.parent / "transit-host.log",
                env={**server.cli_env, **(env or {})}).start()
    wait_for(lambda: host_state(server) == "Online", timeout_s=30, what="the host Online")
    return proc, f"{HOST_IP}:{port}"


def host_state(server: Server) -> str:
    """State of the region's (only) transit host."""
    hosts = server.client.list_transit_hosts(region_id=REGION)["transit_hosts"]
    return str(hosts[0]["state"]) if hosts else ""


def transit_row(server: Server, job_id: str) -> tuple[str, str | None]:
    """(endpoint, host_id) of a job's (last) transit, read from the server's SQLite database."""
    with sqlite3.connect(server.data_dir / "rehost.db") as db:
        row = db.execute("SELECT endpoint, host_id FROM transits WHERE job_id = ? "
                         "ORDER BY created_at DESC", (job_id,)).fetchone()
    return str(row[0]), row[1]


def test_region_jobs_go_through_the_transit_host_and_fall_back_when_offline(
    start_server: Callable[..., Server], tmp_path: Path, e2e_mbr_disk: BuiltDisk,
) -> None:
    server = start_server()
    host_dir = tmp_path / "edge"
    server_store = server.data_dir / "server-store"  # the embedded pool's images
    server.client.create_region({"region_id": REGION, "image_store_path": str(server_store),
                                 "accept_failed_checks": True})  # synthetic disks: no kernel
    host, data_endpoint = start_host(server, host_dir)
    state_file = host_dir / "state" / "transit-host.json"
    # the server lists the host Online once it registers; the host saves the answer just after
    wait_for(state_file.exists, timeout_s=10, what="the host's saved registration")
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600

    agent = server.import_agent(tmp_path / "agent", system_disk=e2e_mbr_disk.path).start()
    job_id = server.create_job(agent.source_id, region_id=REGION, bandwidth_limit=LIMIT_KBPS)
    first = server.wait_progress(job_id, 0.3, timeout_s=60)
    transit_id = str(first["transit_id"])
    endpoint, host_id = transit_row(server, job_id)
    assert endpoint == data_endpoint and host_id  # the agent was sent to the host
    assert (host_dir / "work" / transit_id).is_dir()  # the disks are written on the host
    assert not (server.transits_dir() / transit_id).exists()  # the embedded pool got nothing

    server.client.pause_job(job_id)  # delivered to the host through its work poll
    paused = server.wait_job(job_id, {"Stopped"}, timeout_s=15)
    assert (host_dir / "work" / transit_id).is_dir()  # kept while paused
    resumed = server.client.start_job(job_id)
    assert resumed["transit_id"] == transit_id and resumed["run_count"] == 2
    assert int(resumed["bytes_done"]) >= int(paused["bytes_done"]) > 0  # not from zero
    done = server.wait_job(job_id, {"Finished"}, timeout_s=120)
    image_dir = host_dir / "store" / str(done["image_id"])
    assert compare_disks(e2e_mbr_disk, image_dir / "disk-0.raw") == []
    wait_for(lambda: not (host_dir / "work" / transit_id).exists(), timeout_s=15,
             what="the host to release the transit's work dir")
    codes = {e["code"] for e in server.events(job_id)}
    assert {"Image.Building", "Transit.Progress", "Agent.SendPlan"} <= codes  # host lines
    server.client.delete_image(str(done["image_id"]))  # the host deletes the files
    wait_for(lambda: not image_dir.exists(), timeout_s=15, what="the host to delete the image")

    host.stop()
    wait_for(lambda: host_state(server) == "Offline", timeout_s=15, what="the host Offline")
    second = server.create_job(agent.source_id, region_id=REGION)
    doc = server.wait_job(second, {"Finished"}, timeout_s=120)
    endpoint, host_id = transit_row(server, second)
    assert host_id is None and endpoint == server.data_listen  # the embedded pool served it
    image = server_store / str(doc["image_id"]) / "disk-0.raw"
    assert compare_disks(e2e_mbr_disk, image) == []
    for path, mode in ((server.data_dir, 0o700), (server.data_dir / "rehost.db", 0o600),
                       (image, 0o600), (image_dir.parent, 0o700)):
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, path  # nothing world-readable

    state = json.loads(state_file.read_text())
    server.client.revoke_transit_host(state["host_id"])
    with pytest.raises(HostApiError):  # a revoked host's token is refused at once
        HostApi(server.endpoint, state["host_token"]).post("heartbeat")
    assert host_state(server) == "Revoked"
