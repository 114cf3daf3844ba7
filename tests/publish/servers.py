"""Real publish targets started by the tests: a private libvirtd and a no-auth glance-api."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

# libvirtd's fixed state folders, bound onto private copies in its own mount namespace
LIBVIRT_DIRS = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt",
                "cache": "/var/cache/libvirt", "log": "/var/log/libvirt"}
QEMU_CONF = """security_driver = "none"
stdio_handler = "file"
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
"""
LIBVIRTD_CONF = """auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0700"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log 3:stderr"
"""
GLANCE_CONF = """[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
workers = 1
log_file = {root}/glance-api.log
enabled_backends = local:file
[database]
connection = sqlite:///{root}/glance.sqlite
[paste_deploy]
flavor =
config_file = /etc/glance/glance-api-paste.ini
[glance_store]
default_backend = local
[local]
filesystem_store_datadir = {root}/store/
[os_glance_staging_store]
filesystem_store_datadir = {root}/staging/
[os_glance_tasks_store]
filesystem_store_datadir = {root}/tasks/
[oslo_concurrency]
lock_path = {root}/locks
"""


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@dataclass(frozen=True)
class LibvirtHost:
    """A running private libvirtd."""

    root: Path
    uri: str

    def host_path(self, path: str) -> Path:
        """Where a libvirtd-side path (e.g. under /var/log/libvirt) is on this machine."""
        for key, inside in LIBVIRT_DIRS.items():
            if path.startswith(inside + "/"):
                return self.root / key / path[len(inside) + 1:]
        return Path(path)

    def virsh(self, *args: str) -> str:
        """`virsh -c <uri> …`: its output."""
        return subprocess.run(["virsh", "-c", self.uri, *args], capture_output=True, text=True,
                              timeout=60, check=True).stdout


def libvirt_missing() -> list[str]:
    """Tools the libvirt tests need and do not find."""
    tools = ("libvirtd", "virsh", "unshare", "qemu-system-x86_64")
    return [t for t in tools if not shutil.which(t) and not Path(f"/usr/sbin/{t}").exists()]


@contextmanager
def running_libvirtd(root: Path) -> Iterator[LibvirtHost]:
    """libvirtd as root in a private mount namespace: its config, sockets and state under root.

    Its own pid file: a system libvirtd (the package's postinst starts one where there is no
    systemd) holds /run/libvirtd.pid, and a second daemon on the default exits 1.
    """
    for key, inside in LIBVIRT_DIRS.items():
        (root / key).mkdir(parents=True, exist_ok=True)
        Path(inside).mkdir(parents=True, exist_ok=True)  # mount points (the package makes them)
    (root / "log" / "qemu").mkdir(exist_ok=True)  # console logs (the package makes it)
    shutil.copytree("/etc/libvirt", root / "etc", dirs_exist_ok=True)
    (root / "etc" / "qemu.conf").write_text(QEMU_CONF)
    (root / "etc" / "libvirtd.conf").write_text(LIBVIRTD_CONF)
    binds = " && ".join(f"mount --bind {root / k} {v}" for k, v in LIBVIRT_DIRS.items())
    with (root / "libvirtd.out").open("ab") as out:
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 f"{binds} && exec libvirtd --pid-file {root / 'libvirtd.pid'}"],
                                stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    host = LibvirtHost(root, f"qemu+unix:///system?socket={root / 'run' / 'libvirt-sock'}")
    try:
        _wait(lambda: _virsh_ok(host), proc, 60, root / "libvirtd.out")
        yield host
    finally:
        _destroy_domains(host)
        _stop(proc)


def _virsh_ok(host: LibvirtHost) -> bool:
    try:
        host.virsh("list", "--all")
        return True
    except subprocess.CalledProcessError:
        return False


def _destroy_domains(host: LibvirtHost) -> None:
    """QEMU outlives libvirtd: stop every guest before the daemon."""
    try:
        for name in host.virsh("list", "--name").split():
            host.virsh("destroy", name)
    except (subprocess.SubprocessError, OSError):
        pass


def _wait(ready: object, proc: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        if callable(ready) and ready():
            return
        time.sleep(0.5)
    raise RuntimeError(f"server not ready after {timeout_s} s: {log.read_text()[-2000:]}")


def glance_missing() -> list[str]:
    """Tools the Glance tests need and do not find."""
    return [t for t in ("glance-api", "glance-manage") if not shutil.which(t)]


@contextmanager
def running_glance(root: Path) -> Iterator[str]:
    """glance-api on loopback: SQLite database, file store, no-auth pipeline; its endpoint."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / "glance-api.conf"
    conf.write_text(GLANCE_CONF.format(port=port, root=root))
    subprocess.run(["glance-manage", "--config-file", str(conf), "db_sync"], check=True,
                   capture_output=True, timeout=300)
    with (root / "glance-api.out").open("ab") as out:
        proc = subprocess.Popen(["glance-api", "--config-file", str(conf)], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _answers(f"{endpoint}/v2/images"), proc, 120, root / "glance-api.out")
        yield endpoint
    finally:
        _stop(proc)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
