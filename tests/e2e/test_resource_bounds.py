"""Memory before authentication, against a real `rehost server` process.

50 unauthenticated 100 MiB bodies (streamed, never built in memory; half with a declared
Content-Length, half chunked) and 200 TLS connections that stop inside a frame before HELLO
(half of them announcing a 16 MiB HELLO) must leave the server under +100 MB RSS; a migration
still finishes afterwards.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from diskfactory import BuiltDisk
from e2e.harness import Server
from e2e.test_dataplane_clean import assert_image_matches, migrate
from rehost import wire

MB = 1000 * 1000
BODY_BYTES = 100 * 1024 * 1024
BLOCK = b"z" * (256 * 1024)
RSS_BUDGET_BYTES = 100 * MB


def rss_bytes(pid: int) -> int:
    """Resident set size of a process and its children (the server's receiver processes)."""
    total = 0
    for member in [pid, *_children(pid)]:
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except FileNotFoundError:
            continue
        total += sum(int(line.split()[1]) * 1024 for line in lines if line.startswith("VmRSS:"))
    return total


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


@contextmanager
def peak_rss(pid: int) -> Iterator[list[int]]:
    """Samples the RSS every 50 ms while the block runs; [peak] afterwards."""
    peak, stop = [rss_bytes(pid)], threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], rss_bytes(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def post_unauthenticated(port: int, *, chunked: bool) -> int:
    """Stream a 100 MiB POST without credentials; the status line, or 0 if cut before it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % BODY_BYTES
    sock.sendall(b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + framing + b"\r\n\r\n")
    chunk = (b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n") if chunked else BLOCK
    try:
        for _ in range(BODY_BYTES // len(BLOCK)):
            sock.sendall(chunk)
    except OSError:
        pass  # the server answered and closed: the rest is never read
    try:
        head = sock.recv(64)
    except OSError:
        head = b""
    sock.close()
    return int(head.split()[1]) if head.startswith(b"HTTP/1.1") else 0


def hold_before_hello(port: int, count: int) -> list[ssl.SSLSocket]:
    """count TLS connections before HELLO: half stopped inside a HELLO just under the pre-auth
    limit, half announcing a 16 MiB HELLO and sending 4 MiB of it (refused on the header)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    small = 60 * 1024
    partial = (wire.FRAME_HEADER.pack(wire.MAGIC, 1, wire.FrameType.HELLO, small)
               + b"{" * (small - 1))
    big = wire.FRAME_HEADER.pack(wire.MAGIC, 1, wire.FrameType.HELLO, wire.MAX_CONTROL_BYTES)
    held = []
    for i in range(count):
        sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
        with contextlib.suppress(OSError):  # refused on the header: closed mid-send
            sock.sendall(partial if i % 2 == 0 else big + BLOCK * 16)
        held.append(sock)
    return held


@pytest.mark.slow
def test_unauthenticated_load_stays_bounded_and_a_job_finishes(
    start_server: Callable[..., Server], tmp_path: Path, e2e_mbr_disk: BuiltDisk,
) -> None:
    server = start_server(env={"REHOST_DATA_HELLO_TIMEOUT_S": "20",
                               "REHOST_DATA_MAX_CONNECTIONS_PER_IP": "256"})
    assert server.proc.popen is not None
    pid = server.proc.popen.pid
    server.client.list_regions()  # warm up the routes, the database and the TLS context
    before = rss_bytes(pid)
    with peak_rss(pid) as peak:
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda i: post_unauthenticated(server.port,
                                                                    chunked=i % 2 == 1),
                                     range(50)))
        held = hold_before_hello(server.data_port, 200)
        time.sleep(1.0)
        during = rss_bytes(pid)
    growth = peak[0] - before
    print(f"server RSS (with its receiver processes) {before / MB:.0f} MB -> peak "
          f"{peak[0] / MB:.0f} MB (+{growth / MB:.1f} MB), with 200 held: {during / MB:.0f} MB")
    # 0: the 413 was lost to the reset of a socket closed with unread data (never a 401)
    assert set(statuses) <= {413, 0} and 413 in statuses, statuses
    assert growth < RSS_BUDGET_BYTES
    for sock in held:
        sock.close()
    disks = migrate(server, tmp_path, e2e_mbr_disk)
    assert_image_matches(e2e_mbr_disk, disks[0])
