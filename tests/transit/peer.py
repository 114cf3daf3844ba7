"""A raw data-port client for hostile-peer tests: TLS to a rig, frames in, frames out."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from rehost import wire
from rehost.pki import agent_client_context
from rehost.wire import FrameType

from .harness import MIB, Rig


def connect(rig: Rig, *, timeout_s: float = 10.0) -> ssl.SSLSocket:
    """A TLS connection to the rig's data port."""
    ctx = agent_client_context(rig.ca.cert_pem)
    raw = socket.create_connection(rig.pool.address, timeout=timeout_s)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def hello_doc(token: str, size: int, **extra: Any) -> dict[str, Any]:
    """A valid HELLO for one disk of size bytes."""
    doc: dict[str, Any] = {"token": token, "agent_id": "s", "chunk_bytes": MIB,
                           "disks": [{"index": 0, "size_bytes": size, "plan_bytes": size}]}
    doc.update(extra)
    return doc


def hello(rig: Rig, token: str, size: int) -> tuple[ssl.SSLSocket, wire.FrameReader]:
    """Connected and past HELLO_OK."""
    sock = connect(rig)
    sock.sendall(wire.pack_control(FrameType.HELLO, hello_doc(token, size)))
    reader = wire.FrameReader(sock, 1 << 20)
    frame = reader.read()
    assert frame.type == FrameType.HELLO_OK, bytes(frame.body)
    return sock, reader


def error_then_close(reader: wire.FrameReader, sock: ssl.SSLSocket) -> str:
    """Skip ACK/NACK/DISK_OK, expect one ERROR, then EOF; returns the ERROR code."""
    while True:
        frame = reader.read()
        if frame.type not in (FrameType.ACK, FrameType.NACK, FrameType.DISK_OK):
            break
    assert frame.type == FrameType.ERROR, frame.type
    code = str(wire.unpack_control(frame.body)["code"])
    assert closed(sock), "the transit must close the connection after ERROR"
    sock.close()  # the transit drains (up to 1 s) until its peer closes too
    return code


def closed(sock: socket.socket) -> bool:
    """Whether the peer closed (EOF or reset) within the socket timeout."""
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:  # reset, or a TLS alert/EOF without close_notify
        return True


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll predicate until it holds or timeout_s passes."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


POOL_THREADS = 3  # a started ReceiverPool's own threads: accept, reaper, progress relay


def settled(rig: Rig, threads_before: int) -> bool:
    """No open connection left and no thread more than before (connections fully cleaned)."""
    return wait_until(lambda: rig.pool.open_connections() == 0
                      and threading.active_count() <= threads_before)
