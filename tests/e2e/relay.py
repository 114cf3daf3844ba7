"""A counting TCP relay for e2e tests: drop or corrupt the agent → transit stream on cue."""

from __future__ import annotations

import contextlib
import socket
import threading


class Relay:
    """A TCP relay listen → target that counts bytes and can drop or corrupt the stream."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(listen)
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self.up_bytes = self.down_bytes = self.connections = 0
        self.drops = self.corruptions = 0
        self._drop_at: int | None = None
        self._corrupt_at: int | None = None
        self._closed = False
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        """Where the relay listens."""
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def drop_all(self) -> None:
        """Cut every open connection (both sides see a reset/EOF)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
            self.drops += 1
        for pair in pairs:
            _shut(*pair)

    def drop_at(self, up_bytes: int) -> None:
        """Cut every connection once the agent → transit byte count reaches up_bytes."""
        with self._lock:
            self._drop_at = up_bytes

    def corrupt_at(self, up_bytes: int) -> None:
        """Flip one bit of the agent → transit byte number up_bytes (once)."""
        with self._lock:
            self._corrupt_at = up_bytes

    def close(self) -> None:
        """Stop listening and cut everything."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.drop_all()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
                self.connections += 1
            for src, dst, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, up), daemon=True,
                                 name="relay-pump").start()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while True:
                received = src.recv(1 << 16)
                if not received:
                    break
                data, drop = self._account(bytearray(received), up)
                if drop:
                    self.drop_all()
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shut(src, dst)

    def _account(self, data: bytearray, up: bool) -> tuple[bytearray, bool]:
        """Count bytes; apply a pending corruption or drop (agent → transit direction only)."""
        with self._lock:
            if not up:
                self.down_bytes += len(data)
                return data, False
            before, self.up_bytes = self.up_bytes, self.up_bytes + len(data)
            if self._corrupt_at is not None and self.up_bytes > self._corrupt_at >= before:
                data[self._corrupt_at - before] ^= 0x10
                self._corrupt_at, self.corruptions = None, self.corruptions + 1
            if self._drop_at is not None and self.up_bytes >= self._drop_at:
                self._drop_at = None
                return data, True
            return data, False


def _shut(*socks: socket.socket) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()
