"""`python -m rehost.server` as a real process: first start prints credentials once, restart."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_until_healthy(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    port = _port()
    env = {k: v for k, v in os.environ.items() if k != "REHOST_DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rehost.server", "--data-dir", str(data_dir),
         "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(proc.communicate()[0])


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=15)
    return out


def test_first_start_then_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, base = _run_until_healthy(data)
    creds = json.loads((data / "admin-credentials.json").read_text())
    r = httpx.get(f"{base}/api/v1/regions",
                  auth=(creds["access_key_id"], creds["access_key_secret"]))
    assert [x["region_id"] for x in r.json()["regions"]] == ["local"]
    first = _stop(proc)
    assert creds["access_key_secret"] in first and creds["password"] in first
    assert stat.S_IMODE((data / "admin-credentials.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "master.key").stat().st_mode) == 0o600
    proc, base = _run_until_healthy(data)
    r = httpx.get(f"{base}/api/v1/account",
                  auth=(creds["access_key_id"], creds["access_key_secret"]))
    assert r.status_code == 200  # the secret is re-derived from the same master key
    assert creds["access_key_secret"] not in _stop(proc)
