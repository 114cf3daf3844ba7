"""The fault suite during OS adaptation (issue 8): kill -9 of the transit host while its
libguestfs appliance adapts the guest, then of the server while the resumed build adapts it.

One adaptation-heavy job (a small busybox Linux guest, region with adapt_guests and
keep_static_network), 2 kills. The job must end Finished with an adapted, fsck-clean image
(never a Finished image the killed adaptation half-wrote), the appliance the kill orphaned
(guestfish --listen and its QEMU run in their own session, so they outlive the host) must be
reaped when the build restarts, and none may be left at the end.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from e2e.faultkit import Killer, Victim, markers, start_agent, suite_seed
from e2e.harness import Server, wait_for
from e2e.test_remote_transit import REGION, start_host
from imaging.test_adapt_guestfs import OFFSET, _guest_disk
from rehost.imaging import extfs
from rehost.imaging.adapt_reaper import processes_using
from rehost.transit.buildstep import BUILD_STEPS

pytestmark = [pytest.mark.slow, pytest.mark.qemu, pytest.mark.timeout(1500)]
# after "resized" the adaptation starts: the kills land 3-25 s into it (appliance boot,
# inspection or the guest edits; under TCG the whole adaptation takes 1-3 min)
HOST_ENV = {"REHOST_TEST_BUILD_PAUSE": "resized:0.3", "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg"}
JOB_TIMEOUT_S = 1200.0
START_TIMEOUT_S = 240.0
RULES = "/etc/udev/rules.d/70-persistent-net.rules"


def test_kills_during_adaptation_resume_to_an_adapted_image_and_leave_no_appliance(
    tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    seed = suite_seed()
    print(f"fault suite seed {seed} (replay: REHOST_FAULT_SEED={seed})")
    killer_rng = random.Random(f"{seed}-adapt")
    # started here, not by start_server: with TCG appliances running, a start took over 60 s
    server = Server(tmp_path / "srv", heartbeat_interval_s=10.0)
    request.addfinalizer(server.close)
    server.start(timeout_s=START_TIMEOUT_S)
    server.client.create_region({"region_id": REGION, "accept_failed_checks": True,  # no kernel
                                 "adapt_guests": True, "keep_static_network": True,
                                 "image_store_path": str(server.data_dir / "edge-images")})
    host_dir = tmp_path / "edge"
    host, _endpoint = start_host(server, host_dir, env=HOST_ENV)
    request.addfinalizer(host.stop)
    source = _guest_disk(tmp_path / "guest")
    agent = server.import_agent(tmp_path / "agent", system_disk=source)
    start_agent(server, agent)
    job_id = server.create_job(agent.source_id, system_disk_size=2, region_id=REGION)
    killer = Killer(server, job_id, killer_rng)
    seen = killer.at_step([Victim("host", host, lambda: None)], host, "resized",
                          dict.fromkeys(BUILD_STEPS, 0), killer_rng.uniform(3.0, 25.0),
                          "adaptation")
    build_dir = host_dir / "work" / str(server.job(job_id)["transit_id"]) / "build"
    orphans = processes_using(build_dir)
    assert orphans, "the killed host's appliance should have outlived it (own session)"
    host.start()
    # the resumed build discards the working copy first: the orphans go before the new copy
    wait_for(lambda: markers(host)["resized"] > seen["resized"], timeout_s=300,
             what="the resumed build's resize")
    assert processes_using(build_dir) == [] or set(processes_using(build_dir)).isdisjoint(
        orphans), "the orphaned appliance of the killed build is still running"
    restart = Victim("server", server.proc, lambda: server.start(timeout_s=START_TIMEOUT_S))
    killer.at_step([restart], host, "resized", seen, killer_rng.uniform(3.0, 25.0), "adaptation")
    doc = server.wait_job(job_id, {"Finished"}, timeout_s=JOB_TIMEOUT_S)
    print("kills:", killer.per_phase())
    assert len(killer.kills) == 2
    assert processes_using(build_dir) == []
    assert _appliances(host_dir) == []  # the host names its dirs itself: only QEMU/guestfish
    image = host_dir / "store" / str(doc["image_id"]) / "disk-0.raw"
    _assert_adapted(image, source)
    codes = [e["code"] for e in server.events(job_id)]
    assert "Adapt.Fstab" in codes and "Adapt.NetworkKept" in codes and "Adapt.Network" not in codes


def _appliances(directory: Path) -> list[str]:
    """Command lines of libguestfs processes (guestfish, QEMU) using files under directory."""
    found = []
    for pid in processes_using(directory):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(name in Path(args[0]).name for name in ("qemu", "guestfish", "virt-v2v")):
            found.append(" ".join(args)[:200])
    return found


def _assert_adapted(image: Path, source: Path) -> None:
    """fsck clean; fstab and grub.cfg adapted; the source's network rules kept (the option)."""
    device, before = extfs.spec(image, OFFSET), extfs.spec(source, OFFSET)
    fsck = extfs.fsck(device, repair=False)
    assert fsck.clean, fsck.output
    assert (extfs.read_file(device, "/etc/fstab") or "").startswith("UUID=")
    assert "console=ttyS0" in (extfs.read_file(device, "/boot/grub/grub.cfg") or "")
    assert extfs.read_file(device, RULES) == extfs.read_file(before, RULES) is not None
