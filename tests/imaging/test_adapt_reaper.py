"""Processes left using a working copy (a killed build's appliance) are found and killed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from rehost.imaging.adapt_reaper import processes_using, reap_appliances
from rehost.imaging.workcopy import discard_working_copy

SPAWNS_A_CHILD = ("import subprocess, sys, time\n"
                  "child = subprocess.Popen(['sleep', '300'])\n"
                  "print(child.pid, flush=True)\ntime.sleep(300)")


def _orphan(args: list[str]) -> subprocess.Popen[bytes]:
    """A process in its own session, like guestfish --listen and its QEMU."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", *args],
                            start_new_session=True)


def test_discarding_a_working_copy_kills_what_uses_it_and_spares_the_rest(
    tmp_path: Path,
) -> None:
    build = tmp_path / "t-1" / "build"
    build.mkdir(parents=True)
    other = tmp_path / "t-10" / "build"  # a prefix of another transit's path: not ours
    qemu_like = _orphan(["qemu", f"file={build}/disk-0.raw,format=raw"])
    fish_like = _orphan(["guestfish", "-a", str(build / "disk-0.raw")])
    # a child in its group (like virt-v2v's QEMU, which names only a socket) goes too
    parent = subprocess.Popen([sys.executable, "-c", SPAWNS_A_CHILD, "-a", str(build / "d.raw")],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    group_mate = int(parent.stdout.readline()) if parent.stdout else 0
    unrelated = _orphan(["qemu", f"file={other}/disk-0.raw"])
    try:
        time.sleep(0.2)
        assert processes_using(build) == sorted([qemu_like.pid, fish_like.pid, parent.pid])
        started = time.monotonic()
        discard_working_copy(tmp_path / "t-1")
        assert time.monotonic() - started < 5
        assert qemu_like.wait(timeout=5) == -9 and fish_like.wait(timeout=5) == -9
        assert parent.wait(timeout=5) == -9
        assert not Path(f"/proc/{group_mate}").exists() or "Z" in Path(
            f"/proc/{group_mate}/stat").read_text().rsplit(")", 1)[1][:3]
        assert unrelated.poll() is None and not build.exists()
        assert reap_appliances(build) == []
    finally:
        unrelated.kill()
        unrelated.wait()
