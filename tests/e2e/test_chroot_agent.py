"""The served agent on the distributions people migrate from: a Debian bullseye chroot made with
debootstrap (Python 3.9, OpenSSL 1.1.1, no pip packages) and bookworm's `python3 -I -S`
import a disk image and migrate it to Finished byte-identically; `curl … | sh` in the chroot
leaves a systemd unit whose ExecStart brings the source Available."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from diskfactory import MIB, BuiltDisk, PartSpec, compare_disks, make_disk
from e2e.chrootfs import Chroot, debian_chroot
from e2e.harness import Agent, Server, wait_for
from rehost.agentdist.pyz import agent_artefact

BOOKWORM_PYTHON = Path("/usr/bin/python3")  # this machine's Debian 12 interpreter


@pytest.fixture(scope="module")
def bullseye() -> Chroot:
    """The cached bullseye chroot (built with debootstrap when absent, a few minutes)."""
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing: run scripts/install-system-deps.sh")
    return debian_chroot("bullseye")


def _download_pyz(server: Server, dest: Path) -> Path:
    with urllib.request.urlopen(f"{server.endpoint}/agent/rehost-agent.pyz", timeout=30) as r:
        data = r.read()
    assert r.headers["X-Rehost-Agent-SHA256"] == agent_artefact().sha256
    dest.write_bytes(data)
    return dest


def _source(tmp_path: Path) -> BuiltDisk:
    return make_disk(tmp_path / "disk", name="portable.img", size_mib=1024, table="mbr",
                     parts=(PartSpec(fs="ext4", size_mib=96, files_bytes=16 * MIB,
                                     os_release=True, label="root"),), seed=11)


def _migrate(server: Server, source: BuiltDisk, state_dir: Path, *,
             run: Callable[[Sequence[str]], subprocess.CompletedProcess[str]],
             argv: Callable[[Sequence[str]], list[str]], disk: str, state: str) -> str:
    """Import with run(), start `run` through argv(), migrate to Finished; the agent log."""
    done = run(["import", "--endpoint", server.endpoint, "--code", server.activation_code(),
                "--system-disk", disk, "--state-dir", state])
    assert done.returncode == 0, done.stdout + done.stderr
    source_id = done.stdout.split("[", 1)[1].split("]", 1)[0]
    agent = Agent(state_dir, source_id, server)
    server.agents.append(agent)
    agent.proc.argv = argv(["run", "--state-dir", state, "--poll-interval", "0.25"])
    agent.proc.start()
    job_id = server.create_job(source_id, system_disk_size=1)
    finished = server.wait_job(job_id, {"Finished"}, timeout_s=240)
    image = server.image_disks(str(finished["image_id"]))[0]
    assert image.stat().st_size == source.size_bytes
    assert compare_disks(source, image) == []
    return agent.proc.log_path.read_text()


@pytest.mark.slow
def test_bullseye_chroot_migrates_to_finished(
    bullseye: Chroot, start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    version = bullseye.run(["python3", "-c", "import ssl, sys; print(sys.version_info[:2], "
                            "ssl.OPENSSL_VERSION)"])
    assert "(3, 9)" in version.stdout and "OpenSSL 1.1.1" in version.stdout, version
    no_pip = bullseye.run(["python3", "-c", "import xxhash"])
    assert no_pip.returncode != 0  # no accelerators: the stdlib path
    server = start_server()
    work = tmp_path / "in-chroot"
    work.mkdir()
    _download_pyz(server, work / "rehost-agent.pyz")
    source = _source(tmp_path)
    binds = [(work, "/work"), (source.path, "/src/disk.img")]

    def argv(args: Sequence[str]) -> list[str]:
        return bullseye.argv(["python3", "/work/rehost-agent.pyz", *args], binds=binds)

    def run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return bullseye.run(["python3", "/work/rehost-agent.pyz", *args], binds=binds)

    log = _migrate(server, source, work / "state", run=run, argv=argv, disk="/src/disk.img",
                   state="/work/state")
    assert "data plane: digest blake2b-128" in log


@pytest.mark.slow
def test_bookworm_python_isolated_migrates_to_finished(
    start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    assert BOOKWORM_PYTHON.exists(), "this test runs on Debian 12 (bookworm)"
    server = start_server()
    pyz = _download_pyz(server, tmp_path / "rehost-agent.pyz")
    source = _source(tmp_path)
    prefix = [str(BOOKWORM_PYTHON), "-I", "-S", str(pyz)]

    def run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120,
                              check=False)

    state = tmp_path / "state"
    log = _migrate(server, source, state, run=run, argv=lambda a: [*prefix, *a],
                   disk=str(source.path), state=str(state))
    assert "data plane: digest" in log


@pytest.mark.slow
def test_install_sh_in_bullseye_leaves_a_unit_and_the_source_available(
    bullseye: Chroot, start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    server = start_server()
    with urllib.request.urlopen(f"{server.endpoint}/agent/install.sh", timeout=30) as r:
        assert r.status == 200
    source = _source(tmp_path)
    etc = tmp_path / "etc-systemd"
    opt, state = tmp_path / "opt", tmp_path / "state"
    for d in (etc, opt, state):
        d.mkdir()
    binds = [(etc, "/etc/systemd/system"), (opt, "/opt/rehost-agent"),
             (state, "/var/lib/rehost-agent"), (source.path, "/src/disk.img")]
    # the chroot runs no systemd: the unit is written (REHOST_AGENT_UNIT_DIR) and its
    # ExecStart is started by the test, as systemd would; in a chroot the root file system
    # is no disk, so the system disk is named
    line = (f"curl -fsS {server.endpoint}/agent/install.sh | REHOST_AGENT_UNIT_DIR="
            f"/etc/systemd/system sh -s -- --code {server.activation_code()} --no-start"
            " --system-disk /src/disk.img")
    done = bullseye.run(["sh", "-c", line], binds=binds, timeout_s=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (opt / "rehost-agent.pyz").read_bytes() == agent_artefact().data
    unit = (etc / "rehost-agent.service").read_text()
    exec_start = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    assert exec_start.startswith("ExecStart=/usr/bin/python3 /opt/rehost-agent/rehost-agent.pyz")
    source_id = done.stdout.split("[", 1)[1].split("]", 1)[0]
    agent = Agent(state, source_id, server)
    server.agents.append(agent)
    agent.proc.argv = bullseye.argv(shlex.split(exec_start.removeprefix("ExecStart=")),
                                    binds=binds)
    agent.proc.start()
    wait_for(lambda: server.client.get_source(source_id)["state"] == "Available",
             timeout_s=60, what="source Available")
