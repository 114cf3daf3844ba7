"""Browser-test harness: a real server process on loopback and headless Debian Chromium."""

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
SCREENSHOTS = REPO / "docs" / "screenshots"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    """A `rehost` control plane serving the console on loopback."""

    base_url: str
    data_dir: Path

    def admin(self) -> dict[str, Any]:
        """The first-start credentials written to the data dir."""
        return dict(json.loads((self.data_dir / "admin-credentials.json").read_text()))


@contextmanager
def run_server(data_dir: Path) -> Iterator[RunningServer]:
    """Start the server process, wait for /api/v1/health, stop it afterwards."""
    port = _free_port()
    log = (data_dir.parent / "server.log").open("wb")
    cmd = [sys.executable, str(Path(__file__).parent / "server_main.py"),
           "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH"), str(REPO / "src")) if p)}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError((data_dir.parent / "server.log").read_text())
            time.sleep(0.1)
        yield RunningServer(base, data_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def assert_no_horizontal_scroll(page: Any) -> None:
    """The document is never wider than the viewport."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths[0] <= widths[1], f"{page.url}: scrollWidth {widths[0]} > {widths[1]}"


def shoot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save a screenshot into docs/screenshots and check the width at the same time."""
    assert_no_horizontal_scroll(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
