"""The data port of several receiver processes: accept, read the route, pass the socket on.

The router never speaks TLS. It peeks at the ClientHello (MSG_PEEK: the bytes stay for the
receiver's handshake), takes the route key the agent offers as an ALPN name
(`rehost.protocol.dataroute`) and passes the socket to `hand_off`, which chooses the process
holding that job. A ClientHello without a route (an older agent) is handed off with route
None. The caps of `DataPortLimits` count every connection from accept until the receiver
reports it closed (`closed`), so they hold for the port as a whole, as with one process.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable

from rehost.protocol.dataroute import offered_route
from rehost.transit.clienthello import MAX_HELLO_BYTES, NotClientHello, offered_alpn
from rehost.transit.limits import DataPortLimits
from rehost.transit.pool import accept_until

log = logging.getLogger(__name__)
PEEK_RETRY_S = 0.005  # a ClientHello split over TCP segments: look again shortly
REFUSAL_LOG_INTERVAL_S = 10.0

HandOff = Callable[[socket.socket, str, "str | None"], None]


class DataRouter:
    """Accepts on the data port; each connection goes to `hand_off(sock, address, route)`."""

    def __init__(self, *, host: str, port: int, limits: DataPortLimits,
                 hand_off: HandOff) -> None:
        self.limits = limits
        self._hand_off = hand_off
        self._listener = socket.create_server((host, port), backlog=128, reuse_port=False)
        self._open: Counter[str] = Counter()
        self._refused, self._refusal_logged_at = 0, -REFUSAL_LOG_INTERVAL_S
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="data-router",
                                        daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the listener is bound to."""
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start accepting in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting (connections already handed off stay with their receivers)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)

    def open_connections(self) -> int:
        """Connections accepted and not yet reported closed."""
        with self._lock:
            return sum(self._open.values())

    def closed(self, address: str) -> None:
        """A receiver ended (or refused) a connection from `address`."""
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def _accept_loop(self) -> None:
        accept_until(self._listener, self._stopping, self._take)

    def _take(self, raw: socket.socket, address: str) -> None:
        if not self._admit(address):
            raw.close()  # over a cap: refused at once, no thread, no TLS
            return
        threading.Thread(target=self._route, args=(raw, address), name="data-route",
                         daemon=True).start()

    def _admit(self, address: str) -> bool:
        with self._lock:
            total, same = sum(self._open.values()), self._open[address]
            if (total >= self.limits.max_connections
                    or same >= self.limits.max_connections_per_address):
                self._note_refusal(address, total, same)
                return False
            self._open[address] += 1
            return True

    def _note_refusal(self, address: str, total: int, same: int) -> None:
        self._refused += 1
        now = time.monotonic()
        if now >= self._refusal_logged_at + REFUSAL_LOG_INTERVAL_S:
            log.warning("data connections refused: %d since the last report (now %d open, %d"
                        " from %s)", self._refused, total, same, address)
            self._refused, self._refusal_logged_at = 0, now

    def _route(self, raw: socket.socket, address: str) -> None:
        try:
            route = self._peek_route(raw)
        except (OSError, NotClientHello, TimeoutError) as exc:
            log.info("data connection from %s dropped before TLS: %s", address, exc)
            raw.close()
            self.closed(address)
            return
        try:
            self._hand_off(raw, address, route)
        except Exception:  # the receiver is gone: the agent reconnects
            log.exception("data connection from %s not handed off", address)
            self.closed(address)
        finally:
            raw.close()  # the receiver holds its own descriptor now

    def _peek_route(self, raw: socket.socket) -> str | None:
        """The route of the ClientHello waiting on `raw` (within the HELLO timeout)."""
        deadline = time.monotonic() + self.limits.hello_timeout_s
        while True:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([raw], [], [], max(0.0, left))
            if not readable:
                raise TimeoutError("no TLS ClientHello in time")
            data = raw.recv(MAX_HELLO_BYTES + 64, socket.MSG_PEEK)
            if not data:
                raise ConnectionError("closed before the TLS handshake")
            names = offered_alpn(data)
            if names is not None:
                return offered_route(names)
            if len(data) > MAX_HELLO_BYTES:
                raise NotClientHello("the ClientHello is too large")
            time.sleep(PEEK_RETRY_S)  # readable again at once: the bytes are still there
