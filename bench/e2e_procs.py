"""The real processes a user runs: `rehost server`, `rehost agent run`, the `rehost` CLI.

Everything here goes through the installed console scripts, the way an operator types it: the
server on loopback with its own data dir, the agent imported with an activation code and left
running with its default poll interval, jobs created with `rehost job create --mode immediate`
and waited for with `rehost job wait`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REHOST = str(Path(sys.executable).with_name("rehost"))


def free_port_pair() -> int:
    """A port p such that p and p+1 are both free on loopback."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 65535 and _free(port + 1):
            return port
    raise RuntimeError("no free port pair on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def wait_listening(port: int, timeout_s: float = 10.0) -> None:
    """Wait until a socket listens on port, without connecting (a one-shot listener stays free)."""
    needle = f":{port:04X} "
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if (fields[1] + " ").endswith(needle) and fields[3] == "0A":
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


def drop_caches() -> bool:
    """Flush and drop the page cache (root only); False when this process may not."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


@dataclass
class ControlPlane:
    """One `rehost server` with one imported, running agent per disk."""

    work: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sources: dict[Path, str] = field(default_factory=dict)

    def start(self) -> ControlPlane:
        """Start the server on free ports and wait until its API answers."""
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.port = free_port_pair()
        self._spawn("server", [REHOST, "server", "--data-dir", str(self.work / "data"),
                               "--listen", f"127.0.0.1:{self.port}",
                               "--data-listen", f"127.0.0.1:{self.port + 1}"],
                    # the reference disk has no kernel: the boot checks would end it InError
                    {"REHOST_LOCAL_ACCEPT_FAILED_CHECKS": "1", **self.env})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.endpoint}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"rehost server did not start; see {self.work / 'server.log'}")

    @property
    def endpoint(self) -> str:
        """The API base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def cli_env(self) -> dict[str, str]:
        """What `rehost` CLI commands need to reach this server as its admin."""
        creds = json.loads((self.work / "data" / "admin-credentials.json").read_text())
        return {**os.environ, "REHOST_ENDPOINT": self.endpoint,
                "REHOST_ACCESS_KEY_ID": creds["access_key_id"],
                "REHOST_ACCESS_KEY_SECRET": creds["access_key_secret"]}

    def cli(self, *args: str, timeout_s: float = 600) -> Any:
        """Run `rehost ARGS -o json` and return its JSON document."""
        proc = subprocess.run([REHOST, *args, "--output", "json"], capture_output=True,
                              text=True, timeout=timeout_s, env=self.cli_env)
        if proc.returncode != 0:
            raise RuntimeError(f"rehost {' '.join(args)} exited {proc.returncode}:\n"
                               f"{proc.stdout}\n{proc.stderr}")
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    def add_agent(self, disk: Path) -> str:
        """Import `disk` as a source (`rehost agent import`) and start `rehost agent run`."""
        state = self.work / f"agent-{len(self.sources)}"
        code = self.cli("activation-code", "create")
        doc = self.cli("agent", "import", "--endpoint", self.endpoint, "--code",
                       f"{code['code_id']}:{code['code']}", "--system-disk", str(disk),
                       "--state-dir", str(state))
        self._spawn(f"agent-{len(self.sources)}",
                    [REHOST, "agent", "run", "--state-dir", str(state)], {})
        self.sources[disk] = str(doc["source_id"])
        return self.sources[disk]

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with (self.work / f"{name}.log").open("ab") as log:
            self.procs.append(subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **env}))

    def close(self) -> None:
        """Stop the agents, then the server; remove the work dir."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.procs.clear()
        shutil.rmtree(self.work, ignore_errors=True)
