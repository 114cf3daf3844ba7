"""The fault suite: kill -9 of the server, the agent and a transit host at seeded-random
instants of every phase of a job (Preparing, Syncing, Processing: resize, adaptation, checks,
conversion, publish; Cleaning), several kills per migration.

Each job must end Finished with an image whose filesystems are clean and whose in-use data
equals the source's (or InError with a clear code: none of these jobs has a reason to), never
stuck: every wait is bounded and nothing is restarted by hand but the killed process.
The seed is printed; `REHOST_FAULT_SEED=<seed>` replays a run's instants. Test names say how
many kills each phase gets (a kill that lands in another phase than aimed is printed as such);
over the suite at least 16 + 14 = 30 kills.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from diskfactory import BuiltDisk
from e2e.faultkit import Killer, Victim, as_raw, assert_same_data, start_agent, suite_seed
from e2e.harness import Agent, Server, run_cli
from e2e.test_remote_transit import REGION, start_host
from rehost.transit.buildstep import BUILD_STEPS

pytestmark = pytest.mark.slow
PAUSE_S = 0.6  # each build step pauses this long, so the kills can aim at it
# Cleaning longer: a restarted server resumes the build before its API answers
PAUSES = {"REHOST_TEST_BUILD_PAUSE": f"copied,resized,prepared,published:{PAUSE_S};cleaning:4"}
LIMIT_KBPS = 1536  # ~15 s of sync for the test disk's 23 MiB: room for several kills
SEED = suite_seed()
JOB_TIMEOUT_S = 240.0
# offline after 3 missed beats: a process restarting on a loaded 2-core machine took up to 12 s
HEARTBEAT_S = 5.0
HOST_HEARTBEAT_S = 10.0  # `rehost transit run` took 20 s to come back at a load average of 19


def _rng(name: str) -> random.Random:
    print(f"fault suite seed {SEED} (replay: REHOST_FAULT_SEED={SEED})")
    return random.Random(f"{SEED}-{name}")


def _victims(server: Server, agent: Agent) -> tuple[Victim, Victim]:
    return (Victim("server", server.proc, server.restart),
            Victim("agent", agent.proc, agent.start))


def _report(killer: Killer, planned: int) -> None:
    for k in killer.kills:
        print(f"kill -9 {k.victim:<7} in {k.phase} (+{k.delay_s:.2f} s)")
    counts = killer.per_phase()
    print("kills per phase:", counts)
    assert len(killer.kills) >= planned, counts
    phases = {k.phase.split("/")[0] for k in killer.kills}
    assert {"Syncing", "Processing"} <= phases, counts


def _sync_kills(killer: Killer, choices: list[list[Victim]], count: int) -> None:
    for fraction in sorted(killer.rng.uniform(0.1, 0.85) for _ in range(count)):
        killer.at_progress(killer.rng.choice(choices), fraction)


def test_server_and_agent_kills_preparing1_syncing6_resize1_checks1_conversion1_publish1_cleaning2(
    start_server: Callable[..., Server], tmp_path: Path, e2e_mbr_disk: BuiltDisk,
) -> None:
    rng = _rng("embedded")
    server = start_server(env=PAUSES, heartbeat_interval_s=HEARTBEAT_S)
    server.client.create_region({"region_id": "faults", "image_format": "qcow2",
                                 "image_store_path": str(server.data_dir / "faults-images"),
                                 "accept_failed_checks": True})  # synthetic disk: no kernel
    agent = server.import_agent(tmp_path / "agent", system_disk=e2e_mbr_disk.path)
    start_agent(server, agent)
    srv, agt = _victims(server, agent)
    job_id = server.create_job(agent.source_id, system_disk_size=2, region_id="faults",
                               bandwidth_limit=LIMIT_KBPS)
    killer = Killer(server, job_id, rng)
    killer.kill([srv], "Preparing", rng.uniform(0.0, 0.08))
    killer.at_progress([srv, agt], killer.rng.uniform(0.05, 0.15))
    _sync_kills(killer, [[agt], [agt], [agt], [srv]], 5)  # server restarts are the slow part
    seen = {s: 0 for s in BUILD_STEPS}
    for step, label, spread_s, victims in (
            ("copied", "resize", 0.8, [srv, agt]), ("resized", "checks", 0.3, [srv, agt]),
            ("prepared", "conversion", 0.3, [srv]), ("published", "publish", 0.3, [srv]),
            ("cleaning", "Cleaning", 1.0, [srv]), ("cleaning", "Cleaning", 0.5, [srv])):
        pause = 0.0 if step in ("published", "cleaning") else PAUSE_S
        seen = killer.at_step(victims, server.proc, step, seen,
                              pause + rng.uniform(0.0, spread_s), label)
    doc = server.wait_job(job_id, {"Finished"}, timeout_s=JOB_TIMEOUT_S)
    _report(killer, 16)
    manifest = server.client.get_image(str(doc["image_id"]))["manifest"]
    image = server.data_dir / "faults-images" / str(doc["image_id"]) / manifest["disks"][0]["file"]
    assert image.suffix == ".qcow2"
    assert_same_data(e2e_mbr_disk, as_raw(image, tmp_path), tmp_path)
    assert [p.name for p in image.parent.parent.iterdir()] == [doc["image_id"]]  # no half image
    assert not (server.transits_dir() / str(doc["transit_id"] or "-")).exists()
    codes = [e["code"] for e in server.events(job_id)]
    assert "Image.Resized" in codes and "Check.Accepted" in codes
    for command in (("job", "describe", job_id), ("job", "wait", job_id)):  # not folded away
        assert "!! WARNING [Check.Accepted] Checks failed" in run_cli(*command, env=server.cli_env)


def test_transit_host_kills_preparing1_syncing6_resize1_publish3(
    start_server: Callable[..., Server], tmp_path: Path, e2e_mbr_disk: BuiltDisk,
    request: pytest.FixtureRequest,
) -> None:
    rng = _rng("host")
    server = start_server(heartbeat_interval_s=HOST_HEARTBEAT_S)
    server.client.create_region({"region_id": REGION, "accept_failed_checks": True,
                                 "image_store_path": str(server.data_dir / "edge-images")})
    host_dir = tmp_path / "edge"
    host, _endpoint = start_host(server, host_dir, env=PAUSES)
    request.addfinalizer(host.stop)
    agent = server.import_agent(tmp_path / "agent", system_disk=e2e_mbr_disk.path)
    start_agent(server, agent)
    srv, agt = _victims(server, agent)
    hst = Victim("host", host, host.start)
    job_id = server.create_job(agent.source_id, system_disk_size=2, region_id=REGION,
                               bandwidth_limit=LIMIT_KBPS)
    killer = Killer(server, job_id, rng)
    killer.kill([hst], "Preparing", rng.uniform(0.0, 0.08))
    _sync_kills(killer, [[hst], [hst], [hst, agt], [agt], [srv], [hst, srv]], 6)
    seen = {s: 0 for s in BUILD_STEPS}
    for step, label, spread_s, victims in (  # the server too: the host's report must retry
            ("copied", "resize", 0.8, [hst, agt]), ("prepared", "publish", 0.3, [hst, agt]),
            ("prepared", "publish", 0.3, [srv]), ("published", "publish", 0.2, [hst, srv])):
        pause = 0.0 if step == "published" else PAUSE_S
        seen = killer.at_step(victims, host, step, seen, pause + rng.uniform(0.0, spread_s),
                              label)
    doc = server.wait_job(job_id, {"Finished"}, timeout_s=JOB_TIMEOUT_S)
    _report(killer, 14)
    image = host_dir / "store" / str(doc["image_id"]) / "disk-0.raw"
    assert_same_data(e2e_mbr_disk, image, tmp_path)
    assert [p.name for p in image.parent.parent.iterdir()] == [doc["image_id"]]
    assert len(server.client.list_images()["images"]) == 1
