"""A one-request-per-connection HTTP proxy that can swallow responses (a lost reply)."""

from __future__ import annotations

import socket
import threading
from types import TracebackType


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _with_close(message: bytes) -> bytes:
    """The message with `Connection: close` (each connection carries one request)."""
    head, _, body = message.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


class DropProxy:
    """Forwards to `target`; the first `drop` responses are read from the server, then lost."""

    def __init__(self, target: str, *, drop: int) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.drop = drop
        self.forwarded = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host_port = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DropProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        request = _read_request(conn)
        if not request:
            return
        with socket.create_connection(self.target, timeout=10) as upstream:
            upstream.sendall(_with_close(request))
            response = b""
            while chunk := upstream.recv(65536):
                response += chunk
        self.forwarded += 1
        if self.drop > 0:
            self.drop -= 1  # the server did the work; the client never hears of it
            return
        conn.sendall(_with_close(response))
