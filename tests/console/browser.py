"""Browser-test harness: real `rehost server` / `rehost agent` processes and headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
REPO = Path(__file__).parents[2]
# Every run saves its screenshots (gitignored); `REHOST_SCREENSHOTS=docs/screenshots` refreshes
# the ones the README shows.
SCREENSHOTS = REPO / os.environ.get("REHOST_SCREENSHOTS", "tests/artifacts/screenshots")
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}


def require_chromium() -> None:
    """Skip locally without Chromium; in CI a missing browser is a failure."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    message = f"{CHROMIUM} missing: apt-get install chromium (scripts/install-system-deps.sh)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def rehost_command() -> list[str]:
    """The installed `rehost` console script of this interpreter (or the module's main)."""
    script = Path(sys.executable).with_name("rehost")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from rehost.cli.main import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    paths = (os.environ.get("PYTHONPATH"), str(REPO / "src"))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


@dataclass(frozen=True)
class RunningServer:
    """A `rehost server` process serving the console, the API and the TLS data port."""

    base_url: str
    data_dir: Path
    log_path: Path

    def admin(self) -> dict[str, Any]:
        """The first-start credentials (read once: the first console login deletes the file)."""
        return dict(self._admin)

    @cached_property
    def _admin(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "admin-credentials.json").read_text()))


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started (kill after 10 s) and reap it."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"rehost server did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


@contextmanager
def run_server(data_dir: Path, *, heartbeat_s: float = 30.0) -> Iterator[RunningServer]:
    """`rehost server` on two free loopback ports; stopped afterwards.

    ``heartbeat_s`` is the server's heartbeat interval: a source is offline after 3 missed.
    """
    port, data_port = _free_port(), _free_port()
    log_path = data_dir.parent / "server.log"
    cmd = [*rehost_command(), "server", "--data-dir", str(data_dir),
           "--listen", f"127.0.0.1:{port}", "--data-listen", f"127.0.0.1:{data_port}"]
    with log_path.open("wb") as log:
        # the workflow's synthetic disks have no kernel: its images pass with check warnings
        env = {**_env(), "REHOST_HEARTBEAT_INTERVAL_S": str(heartbeat_s),
               "REHOST_LOCAL_ACCEPT_FAILED_CHECKS": "1"}
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base, proc, log_path)
            running = RunningServer(base, data_dir, log_path)
            running.admin()  # read before any login deletes the file
            yield running
        finally:
            stop_process(proc)


def agent_import(endpoint: str, code: str, *, system_disk: Path, data_disks: tuple[Path, ...],
                 state_dir: Path) -> str:
    """`rehost agent import` for disk image files; returns the new source id."""
    cmd = [*rehost_command(), "agent", "import", "--endpoint", endpoint, "--code", code,
           "--system-disk", str(system_disk), "--state-dir", str(state_dir), "--output", "json"]
    for disk in data_disks:
        cmd += ["--data-disk", str(disk)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    return str(json.loads(done.stdout)["source_id"])


@contextmanager
def run_agent(state_dir: Path, *, heartbeat_s: float = 1.0) -> Iterator[subprocess.Popen[bytes]]:
    """`rehost agent run` in the background (its log next to the state dir)."""
    cmd = [*rehost_command(), "agent", "run", "--state-dir", str(state_dir),
           "--heartbeat-interval", str(heartbeat_s)]
    with (state_dir.parent / f"{state_dir.name}.log").open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env())
        try:
            yield proc
        finally:
            stop_process(proc)


def assert_no_horizontal_scroll(page: Any) -> None:
    """The document is never wider than the viewport."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths[0] <= widths[1], f"{page.url}: scrollWidth {widths[0]} > {widths[1]}"


def shoot(page: Any, name: str | None, *, full_page: bool = True) -> None:
    """Check the width; save a screenshot into SCREENSHOTS when ``name`` is given."""
    assert_no_horizontal_scroll(page)
    if name is None:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
