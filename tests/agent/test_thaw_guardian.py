"""The thaw guardian on real loop-mounted filesystems: a killed agent never leaves them frozen.

Each test runs the real agent code (`freeze.frozen` with the `IoctlFreezer`) in a separate
process that freezes a loop-mounted ext4 or XFS image, then kills, stops or releases it and
checks that a write to the filesystem completes. Needs root and loop devices; a few seconds.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rehost.agent.freeze import FIFREEZE, FITHAW, GUARDIAN_GRACE_S

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("losetup") is None,
                       reason="needs root and loop devices"),
]

AGENT = """
import sys
from rehost.agent.freeze import IoctlFreezer, frozen
with frozen([sys.argv[1]], freezer=IoctlFreezer(), limit_s=float(sys.argv[2])) as guard:
    print("frozen", len(guard.frozen), flush=True)
    sys.stdin.readline()
print("note", guard.guardian_note, flush=True)
"""


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture(params=["ext4", "xfs"])
def mounted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A loop-mounted filesystem; thawed, unmounted and detached whatever the test did."""
    fstype = str(request.param)
    if shutil.which(f"mkfs.{fstype}") is None:
        pytest.skip(f"no mkfs.{fstype}")
    image, mount_point = tmp_path / "fs.img", tmp_path / "mnt"
    mount_point.mkdir()
    with open(image, "wb") as out:
        out.truncate((320 if fstype == "xfs" else 64) << 20)
    _run(f"mkfs.{fstype}", "-q", str(image))
    loop = subprocess.run(["losetup", "-f", "--show", str(image)], check=True,
                          capture_output=True, text=True).stdout.strip()
    try:
        _run("mount", loop, str(mount_point))
        try:
            yield mount_point
        finally:
            subprocess.run(["fsfreeze", "-u", str(mount_point)], capture_output=True)
            subprocess.run(["umount", str(mount_point)], capture_output=True)
    finally:
        subprocess.run(["losetup", "-d", loop], capture_output=True)


def _is_frozen(mount_point: Path) -> bool:
    """FIFREEZE on a frozen filesystem is EBUSY; one that froze now is thawed again."""
    fd = os.open(str(mount_point), os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.ioctl(fd, FIFREEZE, 0)
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                return True
            raise
        fcntl.ioctl(fd, FITHAW, 0)
        return False
    finally:
        os.close(fd)


def _write_completes(mount_point: Path, within_s: float) -> bool:
    """Whether a file written and fsynced on the filesystem is done within the time."""
    code = ("import os,sys\nfd=os.open(sys.argv[1],os.O_WRONLY|os.O_CREAT)\n"
            "os.write(fd,b'x'*4096)\nos.fsync(fd)\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(mount_point / "probe")])
    try:
        writer.wait(timeout=within_s)
        return writer.returncode == 0
    except subprocess.TimeoutExpired:
        subprocess.run(["fsfreeze", "-u", str(mount_point)], capture_output=True)
        writer.wait(timeout=30)
        return False


def _start_agent(mount_point: Path, limit_s: float) -> subprocess.Popen[str]:
    agent = subprocess.Popen([sys.executable, "-c", AGENT, str(mount_point), str(limit_s)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert agent.stdout is not None
    assert agent.stdout.readline() == "frozen 1\n"
    assert _is_frozen(mount_point)
    return agent


def _guardian_pid(agent: subprocess.Popen[str]) -> int:
    children = Path(f"/proc/{agent.pid}/task/{agent.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_a_sigkilled_agent_leaves_nothing_frozen(mounted: Path) -> None:
    agent = _start_agent(mounted, limit_s=120)
    guardian = _guardian_pid(agent)
    agent.kill()
    agent.wait()
    assert _write_completes(mounted, within_s=5)
    assert not _is_frozen(mounted) and _gone(guardian, within_s=5)


def test_a_stopped_agent_is_thawed_when_the_limit_passes(mounted: Path) -> None:
    limit_s = 2.0
    agent = _start_agent(mounted, limit_s=limit_s)
    started = time.monotonic()
    guardian = _guardian_pid(agent)
    os.kill(agent.pid, signal.SIGSTOP)  # its watchdog thread cannot run: only the guardian
    try:
        assert _gone(guardian, within_s=limit_s + GUARDIAN_GRACE_S + 5)
        assert time.monotonic() - started >= limit_s  # not before the limit
        assert not _is_frozen(mounted)
        assert _write_completes(mounted, within_s=5)
    finally:
        agent.kill()
        agent.wait()


def test_a_killed_guardian_leaves_the_thaw_to_the_agent(mounted: Path) -> None:
    agent = _start_agent(mounted, limit_s=120)
    os.kill(_guardian_pid(agent), signal.SIGKILL)
    time.sleep(0.3)
    assert _is_frozen(mounted)  # killing the guardian does not thaw, the agent still does
    out, _ = agent.communicate("\n", timeout=30)
    assert agent.returncode == 0 and "thaw guardian ended with status -9" in out
    assert _write_completes(mounted, within_s=5)


def test_the_normal_thaw_releases_the_guardian_untouched(mounted: Path) -> None:
    agent = _start_agent(mounted, limit_s=120)
    guardian = _guardian_pid(agent)
    out, _ = agent.communicate("\n", timeout=30)
    assert agent.returncode == 0 and out == "note \n"
    assert _gone(guardian, within_s=1) and not _is_frozen(mounted)
    assert _write_completes(mounted, within_s=5)
