"""A real rehost HTTP server on loopback for SMC SDK and CLI tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True, slots=True)
class LiveServer:
    """Where the server listens and the admin AccessKey it created at first start."""

    endpoint: str
    host_port: str
    data_dir: Path
    access_key_id: str
    access_key_secret: str

    def env(self) -> dict[str, str]:
        """Environment for CLI subprocesses pointing at this server."""
        return {**os.environ, "REHOST_ENDPOINT": self.endpoint,
                "REHOST_ACCESS_KEY_ID": self.access_key_id,
                "REHOST_ACCESS_KEY_SECRET": self.access_key_secret}


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(endpoint: str, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rehost server exited with {proc.returncode}")
        try:
            httpx.get(endpoint + "/api/v1/health", timeout=1.0).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError("rehost server did not start")


def _start(data_dir: Path, env: dict[str, str],
           log_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """Start the server on free ports; another try when a port was taken meanwhile."""
    for _attempt in range(3):
        host_port = f"127.0.0.1:{free_port()}"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "rehost.cli.main", "server", "--data-dir", str(data_dir),
                 "--listen", host_port, "--data-listen", f"127.0.0.1:{free_port()}"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            _wait_ready(f"http://{host_port}", proc)
            return host_port, proc
        except RuntimeError:
            if "Address already in use" not in log_path.read_text(errors="replace"):
                raise
    raise RuntimeError("no free port pair for rehost server after 3 tries")


@contextmanager
def run_server(data_dir: Path, *, heartbeat_s: float = 30.0) -> Iterator[LiveServer]:
    """Start `rehost server` as a real process on a free port; stop it afterwards."""
    env = {**os.environ, "REHOST_HEARTBEAT_INTERVAL_S": str(heartbeat_s)}
    env.pop("REHOST_DATABASE_URL", None)
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    host_port, proc = _start(data_dir, env, log_path)
    endpoint = f"http://{host_port}"
    try:
        creds = json.loads((data_dir / "admin-credentials.json").read_text())
        yield LiveServer(endpoint, host_port, data_dir, creds["access_key_id"],
                         creds["access_key_secret"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
