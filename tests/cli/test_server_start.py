"""`rehost server` refuses clearly when it cannot start (no traceback)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def _rehost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rehost.cli.main", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = _rehost("server", "--data-dir", str(tmp_path / "d"), "--listen",
                       f"127.0.0.1:{port}", "--data-listen", f"127.0.0.1:{_free_port()}")
    assert done.returncode == 1
    assert "Address already in use" in done.stderr and "--listen" in done.stderr
    assert "无法启动服务器" in done.stderr and "Traceback" not in done.stderr


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = _rehost("server", "--data-dir", str(blocker / "sub"), "--listen",
                   f"127.0.0.1:{_free_port()}", "--data-listen", f"127.0.0.1:{_free_port()}")
    assert done.returncode == 1 and "--data-dir" in done.stderr
    assert "Traceback" not in done.stderr
