"""End-to-end process helpers: a real `rehost server`, real `rehost agent run`, a TCP relay.

Typical use (see tests/e2e/test_dataplane_*.py):

    server = Server(tmp_path / "srv").start()
    agent = server.import_agent(tmp_path / "agent", system_disk=img, data_disks=[data])
    agent.start()
    job_id = server.create_job(agent.source_id, system_disk_size=1)
    doc = server.wait_job(job_id, {"Finished"}, timeout_s=120)
    disks = server.image_disks(doc["image_id"])   # {index: Path of disk-<i>.raw}
    server.stop()  # or server.kill() / server.restart()

Every wait raises `E2EError` carrying the tails of every process log.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from e2e.relay import Relay
from rehost.client import ClientError, RehostClient

__all__ = ["Agent", "E2EError", "Proc", "Relay", "Server", "free_port", "logs_text",
           "run_cli", "wait_for"]
T = TypeVar("T")
REHOST = str(Path(sys.executable).with_name("rehost"))
TERMINAL = frozenset({"Finished", "InError", "Stopped", "Expired"})
LOG_TAIL_LINES = 60
_ALL: list[Proc] = []  # every process started by this test run (for log dumps)


class E2EError(AssertionError):
    """A wait timed out or a process failed; the message carries the process logs."""


# below the kernel's ephemeral range (32768-60999): the source ports of the suite's many
# client connections come from there, and one took a server's data port between the check and
# the server's bind
PORT_RANGE = (20000, 32000)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on host right now (also free at port + 1 is not guaranteed)."""
    for _ in range(200):
        port = random.randrange(*PORT_RANGE)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # the range is full: any port the kernel gives
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_port_pair(host: str = "127.0.0.1") -> int:
    """A port p with p and p + 1 both free on host (API port and default data port)."""
    for _ in range(50):
        port = free_port(host)
        try:
            with socket.socket() as s:
                s.bind((host, port + 1))
            return port
        except OSError:
            continue
    raise E2EError("no free port pair found")


def logs_text(procs: Iterable[Proc] | None = None) -> str:
    """The last lines of every (or the given) process log."""
    return "\n".join(p.log_tail() for p in (procs if procs is not None else _ALL))


def wait_for(check: Callable[[], T | None], *, timeout_s: float, what: str,
             interval_s: float = 0.1) -> T:
    """Poll check() until it returns a value other than None/False; raise E2EError on timeout."""
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while True:
        try:
            value = check()
            if value is not None and value is not False:
                return value
        except (ClientError, httpx.HTTPError, OSError) as exc:
            last_error = f" (last error: {exc})"
        if time.monotonic() > deadline:
            raise E2EError(f"timed out after {timeout_s:.0f} s waiting for {what}{last_error}\n"
                           f"{logs_text()}")
        time.sleep(interval_s)


@dataclass
class Proc:
    """A subprocess with its output in a log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        """Start (or start again); output appends to the log."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with self.log_path.open("ab") as log:
            log.write(f"--- start {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, env=env)
        if self not in _ALL:
            _ALL.append(self)
        return self

    @property
    def alive(self) -> bool:
        """Whether the process runs."""
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """kill -9 and reap."""
        if self.popen is not None and self.alive:
            self.popen.send_signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=30)

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after timeout_s."""
        if self.popen is None or not self.alive:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the log, headed by the process name."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"===== {self.name} ({self.log_path}) =====\n" + "\n".join(
            text.splitlines()[-lines:])


def run_cli(*args: str, env: dict[str, str] | None = None, timeout_s: float = 60.0) -> str:
    """Run `rehost ARGS` to completion; raise E2EError with its output on failure."""
    proc = subprocess.run([REHOST, *args], capture_output=True, text=True, timeout=timeout_s,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise E2EError(f"rehost {' '.join(args)} failed ({proc.returncode}):\n"
                       f"{proc.stdout}\n{proc.stderr}")
    return proc.stdout


class Server:
    """`rehost server` on free ports with its own data dir; restartable on the same ports."""

    def __init__(self, work: Path, *, heartbeat_interval_s: float = 1.0, relay: bool = False,
                 env: dict[str, str] | None = None) -> None:
        """relay=True: the transit listens on 127.0.0.2 and agents reach it through `self.relay`
        (a `Relay` on 127.0.0.1, same port, that counts the bytes on the wire)."""
        work.mkdir(parents=True, exist_ok=True)
        self.work, self.data_dir = work, work / "data"
        self.port = free_port_pair()
        self.data_port = self.port + 1
        data_listen_host = "127.0.0.2" if relay else "127.0.0.1"
        data_advertise = "127.0.0.1" if relay else ""
        self.data_listen = f"{data_listen_host}:{self.data_port}"
        self.relay = Relay(("127.0.0.1", self.data_port),
                           (data_listen_host, self.data_port)) if relay else None
        argv = [REHOST, "server", "--data-dir", str(self.data_dir),
                "--listen", f"127.0.0.1:{self.port}", "--data-listen", self.data_listen]
        if data_advertise:
            argv += ["--data-advertise", data_advertise]
        self.proc = Proc("server", argv, work / "server.log",
                         env={"REHOST_HEARTBEAT_INTERVAL_S": str(heartbeat_interval_s),
                              # the synthetic disks have no kernel or bootloader: hard check
                              # failures would end every job InError (tests may set "0")
                              "REHOST_LOCAL_ACCEPT_FAILED_CHECKS": "1",
                              **(env or {})})
        self._client: RehostClient | None = None
        self._creds: dict[str, str] | None = None
        self.agents: list[Agent] = []

    @property
    def endpoint(self) -> str:
        """The API base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> Server:
        """Start and wait until the API answers."""
        self.proc.start()

        def ready() -> bool:
            if not self.proc.alive:
                raise E2EError(f"the server exited\n{logs_text([self.proc])}")
            return httpx.get(f"{self.endpoint}/api/v1/openapi.json", timeout=2).status_code == 200

        wait_for(ready, timeout_s=timeout_s, what="the server API", interval_s=0.2)
        return self

    def kill(self) -> None:
        """kill -9 the server (its embedded transit dies with it)."""
        self.proc.kill()

    def stop(self) -> None:
        """Stop the server gracefully."""
        self.proc.stop()

    def restart(self) -> Server:
        """Start again on the same ports and data dir (after kill or stop)."""
        return self.start()

    @property
    def credentials(self) -> dict[str, str]:
        """The first-start admin credentials (read once: the first console login deletes it)."""
        if self._creds is None:
            path = self.data_dir / "admin-credentials.json"
            self._creds = json.loads(path.read_text())
        return dict(self._creds)

    @property
    def cli_env(self) -> dict[str, str]:
        """Environment for `rehost` CLI commands against this server."""
        creds = self.credentials
        return {"REHOST_ENDPOINT": self.endpoint,
                "REHOST_ACCESS_KEY_ID": creds["access_key_id"],
                "REHOST_ACCESS_KEY_SECRET": creds["access_key_secret"]}

    @property
    def client(self) -> RehostClient:
        """A REST client with the admin AccessKey."""
        if self._client is None:
            creds = self.credentials
            self._client = RehostClient(self.endpoint, creds["access_key_id"],
                                        creds["access_key_secret"], timeout_s=15)
        return self._client

    def close(self) -> None:
        """Stop every agent and the server; close the client."""
        for agent in self.agents:
            agent.proc.stop()
        self.stop()
        if self.relay is not None:
            self.relay.close()
        if self._client is not None:
            self._client.close()

    def activation_code(self) -> str:
        """A fresh one-use activation code as CODE_ID:CODE."""
        doc = self.client.create_activation_code(count=1)
        return f"{doc['code_id']}:{doc['code']}"

    def import_agent(self, state_dir: Path, *, system_disk: Path,
                     data_disks: Sequence[Path] = (), name: str = "") -> Agent:
        """`rehost agent import` image files as a new source; returns the (stopped) agent."""
        args = ["agent", "import", "--endpoint", self.endpoint, "--code", self.activation_code(),
                "--system-disk", str(system_disk), "--state-dir", str(state_dir),
                "--output", "json"]
        for disk in data_disks:
            args += ["--data-disk", str(disk)]
        if name:
            args += ["--name", name]
        doc = json.loads(run_cli(*args))
        agent = Agent(state_dir, str(doc["source_id"]), self)
        self.agents.append(agent)
        return agent

    # jobs
    def create_job(self, source_id: str, *, system_disk_size: int = 1,
                   data_disks: Sequence[tuple[int, int]] = (), mode: str = "immediate",
                   **fields: Any) -> str:
        """Create a job (data_disks as (index, GiB)); immediate mode starts it."""
        body = {"source_id": source_id, "region_id": "local",
                "system_disk_size": system_disk_size, "execution_mode": mode,
                "data_disks": [{"index": i, "size": s} for i, s in data_disks] or None, **fields}
        return str(self.client.create_job(body)["job_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        """The job document."""
        return self.client.get_job(job_id)

    def events(self, job_id: str) -> list[dict[str, Any]]:
        """The job's event log, oldest first."""
        events: list[dict[str, Any]] = self.client.job_events(job_id)["events"]
        return events

    def wait_job(self, job_id: str, statuses: Iterable[str], *, timeout_s: float = 120.0,
                 business: str | None = None) -> dict[str, Any]:
        """Wait until the job's status is one of statuses (and business status, if given).

        Fails at once when the job reaches another terminal status.
        """
        wanted = set(statuses)

        def check() -> dict[str, Any] | None:
            doc = self.job(job_id)
            if doc["status"] in wanted and business in (None, doc["business_status"]):
                return doc
            if doc["status"] in TERMINAL - wanted:
                raise E2EError(f"job {job_id} ended {doc['status']} {doc['error_code']}: "
                               f"{doc['error_message']} (wanted {sorted(wanted)})\n"
                               f"{self.events_text(job_id)}\n{logs_text()}")
            return None

        return wait_for(check, timeout_s=timeout_s, what=f"job {job_id} in {sorted(wanted)}")

    def wait_progress(self, job_id: str, fraction: float, *,
                      timeout_s: float = 120.0) -> dict[str, Any]:
        """Wait until the job's durable bytes_done reaches fraction of bytes_total."""

        def check() -> dict[str, Any] | None:
            doc = self.job(job_id)
            if doc["status"] in TERMINAL:
                raise E2EError(f"job {job_id} is {doc['status']} before {fraction:.0%}: "
                               f"{doc['error_code']} {doc['error_message']}\n{logs_text()}")
            total = int(doc["bytes_total"] or 0)
            return doc if total and int(doc["bytes_done"]) >= fraction * total else None

        return wait_for(check, timeout_s=timeout_s, what=f"job {job_id} at {fraction:.0%}",
                        interval_s=0.05)

    def events_text(self, job_id: str) -> str:
        """The job log as text (for failure messages)."""
        try:
            return "\n".join(f"{e['level']} {e['code']} {e['message']} {e['hint']}"
                             for e in self.events(job_id))
        except (ClientError, httpx.HTTPError) as exc:
            return f"(job log unavailable: {exc})"

    def image_disks(self, image_id: str) -> dict[int, Path]:
        """Published disk files of an image by disk index (from its manifest)."""
        manifest = self.client.get_image(image_id)["manifest"]
        region = next(r for r in self.client.list_regions()["regions"]
                      if r["region_id"] == "local")
        directory = Path(manifest.get("path") or Path(region["image_store_path"]) / image_id)
        return {int(d["index"]): directory / str(d["file"]) for d in manifest["disks"]}

    def transits_dir(self) -> Path:
        """Where the embedded transit keeps every job's work directory."""
        return self.data_dir / "transits"


class Agent:
    """`rehost agent run` for one imported source."""

    def __init__(self, state_dir: Path, source_id: str, server: Server) -> None:
        self.state_dir, self.source_id, self.server = state_dir, source_id, server
        self.proc = Proc(f"agent {source_id}", [], state_dir.parent / f"{state_dir.name}.log")

    def start(self, *, heartbeat_interval_s: float = 0.5, poll_interval_s: float = 0.25) -> Agent:
        """Start the agent process (again after a kill)."""
        self.proc.argv = [REHOST, "agent", "run", "--state-dir", str(self.state_dir),
                          "--heartbeat-interval", str(heartbeat_interval_s),
                          "--poll-interval", str(poll_interval_s)]
        before = self._heartbeat_time()
        self.proc.start()
        if before is not None:
            self._wait_first_heartbeat(before)
        return self

    def _heartbeat_time(self) -> str | None:
        """The source's last heartbeat as the server saw it; None when the server is down."""
        if not self.server.proc.alive:
            return None
        try:
            return str(self.server.client.get_source(self.source_id).get("heartbeat_time"))
        except (ClientError, httpx.HTTPError):
            return None

    def _wait_first_heartbeat(self, before: str) -> None:
        """Wait until the new process has reported (its start-up may take seconds on a loaded
        machine, longer than the server's 3 missed heartbeats before a job goes Offline)."""

        def beat() -> bool | None:
            if not self.proc.alive:
                raise E2EError(f"the agent exited\n{self.proc.log_tail()}")
            now = self._heartbeat_time()
            return True if now is None or now != before else None

        wait_for(beat, timeout_s=60, what=f"the agent of {self.source_id} to heartbeat",
                 interval_s=0.1)

    def kill(self) -> None:
        """kill -9 the agent."""
        self.proc.kill()

    def stop(self) -> None:
        """Stop the agent gracefully."""
        self.proc.stop()

