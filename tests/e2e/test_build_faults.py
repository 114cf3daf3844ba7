"""kill -9 of the server at many instants of Processing and Cleaning (real server and agent).

The server pauses 0.6 s after each build step (REHOST_TEST_BUILD_PAUSE, test-only) and is killed
at or just after a pause: after the working copy, during the resize (1 → 2 GiB, resize2fs),
after the checks, during the publish, after the publish and during Cleaning. Whatever the
instant, the job must end Finished with one image whose filesystems are clean and whose
in-use data equals the source's; the received disks are never changed by a build.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from diskfactory import BuiltDisk
from e2e.faultkit import assert_same_data, start_agent
from e2e.harness import E2EError, Server, run_cli
from rehost.transit.buildstep import BUILD_STEPS

pytestmark = pytest.mark.slow
PAUSE_S = 0.6
# (step whose pause marker we wait for, seconds after it to kill): ≥ 10 instants
KILLS = (("copied", 0.0), ("copied", PAUSE_S + 0.05), ("copied", PAUSE_S + 0.3),
         ("copied", PAUSE_S + 0.6), ("prepared", 0.0), ("prepared", PAUSE_S + 0.02),
         ("prepared", PAUSE_S + 0.12), ("published", 0.0), ("published", 0.3),
         ("cleaning", 0.0), ("cleaning", 0.4))


def _markers(server: Server) -> dict[str, int]:
    text = server.proc.log_path.read_text(errors="replace")
    return {s: text.count(f"test pause at build step {s} ") for s in BUILD_STEPS}


def _kill_at(server: Server, before: dict[str, int], step: str, delay_s: float,
             timeout_s: float = 90.0) -> tuple[str, float]:
    """Wait for a new pause marker at `step` (or a later step), then kill -9 after delay_s."""
    later = BUILD_STEPS[BUILD_STEPS.index(step):]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = _markers(server)
        hit = next((s for s in later if now[s] > before[s]), None)
        if hit is not None:  # a later step (the earlier one was done before a kill): at once
            delay_s = delay_s if hit == step else 0.0
            time.sleep(delay_s)
            server.kill()
            return hit, round(delay_s, 2)
        if not server.proc.alive:
            raise E2EError(f"the server died by itself\n{server.proc.log_tail()}")
        time.sleep(0.02)
    raise E2EError(f"no build pause at {step} within {timeout_s} s\n{server.proc.log_tail()}")


def test_server_kill9_through_processing_and_cleaning_finishes_a_clean_image(
    start_server: Callable[..., Server], tmp_path: Path, e2e_mbr_disk: BuiltDisk,
) -> None:
    # Cleaning longer: a restarted server resumes the build before its API answers (slow
    # under load), so a short pause there would be over before the test could see it
    steps = ",".join(s for s in BUILD_STEPS if s != "cleaning")
    pause = f"{steps}:{PAUSE_S};cleaning:4"
    server = start_server(env={"REHOST_TEST_BUILD_PAUSE": pause})
    agent = start_agent(server, server.import_agent(tmp_path / "agent",
                                                    system_disk=e2e_mbr_disk.path))
    before = _markers(server)
    job_id = server.create_job(agent.source_id, system_disk_size=2)
    hits = []
    for step, delay_s in KILLS:  # the markers are counted before the restart: builds resume
        hits.append(_kill_at(server, before, step, delay_s))  # (builds start before the API)
        before = _markers(server)
        server.restart()
    print("kills at (step, delay s):", hits)
    assert len(hits) >= 10
    doc = server.wait_job(job_id, {"Finished"}, timeout_s=180)
    image = server.image_disks(doc["image_id"])[0]
    assert_same_data(e2e_mbr_disk, image, tmp_path)
    store = image.parent.parent
    assert [p.name for p in store.iterdir()] == [doc["image_id"]]  # no orphan, no half image
    assert len(server.client.list_images()["images"]) == 1
    codes = [e["code"] for e in server.events(job_id)]
    assert "Image.WorkingCopy" in codes and "Image.Resized" in codes


def test_hard_check_failure_ends_in_error_and_start_rebuilds_without_resending(
    start_server: Callable[..., Server], tmp_path: Path, e2e_mbr_disk: BuiltDisk,
) -> None:
    server = start_server(env={"REHOST_LOCAL_ACCEPT_FAILED_CHECKS": "0"}, relay=True)
    agent = start_agent(server, server.import_agent(tmp_path / "agent",
                                                    system_disk=e2e_mbr_disk.path))
    job_id = server.create_job(agent.source_id)
    failed = server.wait_job(job_id, {"InError"}, timeout_s=120)
    assert failed["error_code"] == "Check.Kernel", failed  # the synthetic disk has no kernel
    assert "未通过" in failed["error_message"] and "start the job again" in failed["error_hint"]
    assert server.client.list_images()["images"] == []
    assert server.relay is not None
    sent = server.relay.up_bytes
    started = json.loads(run_cli("job", "start", job_id, "--output", "json", env=server.cli_env))
    assert started["status"] == "Running"
    again = server.wait_job(job_id, {"InError"}, timeout_s=120)
    assert again["error_code"] == "Check.Kernel" and again["run_count"] == 2
    codes = [e["code"] for e in server.events(job_id)]
    assert codes.count("Image.Building") == 2  # Processing again, from the kept received disks
    resent = server.relay.up_bytes - sent
    print(f"bytes on the wire for the second start: {resent} (first: {sent})")
    assert resent < sent // 20
