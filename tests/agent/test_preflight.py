"""`rehost-agent check`: root, readable disks, server reachability and clock skew."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rehost.agent import preflight
from rehost.agent.cli import main


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)  # sends a Date header
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_server_reachable_and_clock_in_sync(endpoint: str) -> None:
    server, clock = preflight.check_server(endpoint)
    assert (server.level, clock.level) == ("OK", "OK")


def test_clock_skew_fails(endpoint: str) -> None:
    import time

    _, clock = preflight.check_server(endpoint, now=lambda: time.time() + 3600)
    assert clock.level == "FAIL" and "NTP" in clock.detail
    assert re.match(r"\+360[01] s", clock.detail)  # the Date header has 1 s resolution


def test_unreachable_server_and_unreadable_disk(tmp_path: Path) -> None:
    (down,) = preflight.check_server("http://127.0.0.1:9", timeout_s=2)
    assert down.level == "FAIL" and "无法连接" in down.detail
    (missing,) = preflight.check_disks([str(tmp_path / "nope.img")])
    assert missing.level == "FAIL"
    assert preflight.check_root(lambda: 1000).level == "FAIL"
    assert preflight.check_root(lambda: 0).level == "OK"
    assert not preflight.passed([down])


def test_cli_report(endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    code = main(["check", "--state-dir", str(tmp_path / "none"), "--endpoint", endpoint,
                 "--disk", str(disk)])
    out = capsys.readouterr().out
    assert f"OK   disk {disk}: readable" in out and "OK   clock:" in out
    assert code == (0 if "OK   root" in out else 1)
