"""ReceiverPool: one TLS data listener serving many jobs, routed by the job data token."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rehost.transit.connection import DataConnection
from rehost.transit.limits import DataPortLimits
from rehost.transit.ports import TransitControl
from rehost.transit.progress_relay import ProgressRelay
from rehost.transit.session import JobSession, TransitStats

log = logging.getLogger(__name__)
REAP_INTERVAL_S = 0.25
REFUSAL_LOG_INTERVAL_S = 10.0


@dataclass(eq=False)
class _Peer:
    """One accepted connection: where from, and until when it may stay without a valid HELLO."""

    address: str
    fd: int  # a dup of the socket's descriptor, ours to close: never reused under us
    deadline: float | None  # None once HELLO named a live job


class ReceiverPool:
    """Accepts agent data connections; one thread per connection, one session per job.

    Connections over the caps of `limits` are closed at once; a connection that has not sent a
    valid HELLO within `limits.hello_timeout_s` of being accepted is shut down by the reaper.
    """

    def __init__(
        self,
        *,
        control: TransitControl,
        ssl_context: ssl.SSLContext,
        host: str = "0.0.0.0",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        limits: DataPortLimits | None = None,
        listen: bool = True,
    ) -> None:
        """`listen=False`: no listener of its own; connections come through `adopt`."""
        self.limits = limits or DataPortLimits()
        self.on_closed: Callable[[str], None] = lambda _address: None
        self._control = ProgressRelay(control)  # progress never waits in a writer
        self._ctx = ssl_context
        self._clock = clock
        self._listener = (socket.create_server((host, port), backlog=128, reuse_port=False)
                          if listen else None)
        self._sessions: dict[str, JobSession] = {}
        self._conns: dict[str, set[DataConnection]] = {}
        self._peers: set[_Peer] = set()
        self._refused, self._refusal_logged_at = 0, -REFUSAL_LOG_INTERVAL_S
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._accept_loop, name="transit-accept", daemon=True
        )
        self._reaper = threading.Thread(target=self._reap_loop, name="transit-reaper",
                                        daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the listener is bound to."""
        if self._listener is None:
            raise RuntimeError("this pool has no listener of its own")
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start accepting connections in a background thread."""
        self._control.start()
        if self._listener is not None:
            self._thread.start()
        self._reaper.start()

    def stop(self) -> None:
        """Stop accepting, drop every connection and close all job files."""
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            self._listener.close()
            self._thread.join(timeout=5)
        self._reaper.join(timeout=5)
        with self._lock:
            for peer in self._peers:  # wakes connections still waiting for HELLO
                _shutdown_fd(peer.fd)
            job_ids = list(self._sessions)
        for job_id in job_ids:
            self.disconnect_job(job_id)
            self._close_session(job_id)
        self._control.stop()

    def disconnect_job(self, job_id: str) -> None:
        """Drop the job's open connections (pause); its journal and disks stay."""
        with self._lock:
            conns = list(self._conns.get(job_id, ()))
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def release_job(self, job_id: str, work_dir: Path) -> None:
        """Release the job's transit: drop connections, close files, delete the work dir."""
        self.disconnect_job(job_id)
        self._close_session(job_id)
        shutil.rmtree(work_dir, ignore_errors=True)

    def stats(self, job_id: str) -> TransitStats | None:
        """Counters of data received for a job since this pool started."""
        with self._lock:
            session = self._sessions.get(job_id)
        return session.stats() if session is not None else None

    def _close_session(self, job_id: str) -> None:
        with self._lock:
            session = self._sessions.pop(job_id, None)
        if session is not None:
            session.close()

    def _open_session(self, token: str) -> JobSession | None:
        spec = self._control.lookup(token) if token else None
        if spec is None:
            return None
        with self._lock:
            session = self._sessions.get(spec.job_id)
            if session is None:
                session = JobSession(spec, self._control, self._clock)
                self._sessions[spec.job_id] = session
            return session

    def problem(self) -> str:
        """"" while the pool serves (one process: it serves while it runs)."""
        return ""

    def open_connections(self) -> int:
        """How many data connections are open now (served or waiting for HELLO)."""
        with self._lock:
            return len(self._peers)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        accept_until(self._listener, self._stopping, self.adopt)

    def adopt(self, raw: socket.socket, address: str) -> bool:
        """Serve an accepted connection from `address` (False: over a cap, closed at once)."""
        peer = None if self._stopping.is_set() else self._admit(raw, address)
        if peer is None:
            raw.close()  # over a cap: refused at once, no thread, no TLS handshake
            return False
        threading.Thread(
            target=self._serve, args=(raw, peer), name="transit-conn", daemon=True
        ).start()
        return True

    def _admit(self, raw: socket.socket, address: str) -> _Peer | None:
        with self._lock:
            same = sum(1 for p in self._peers if p.address == address)
            if (len(self._peers) >= self.limits.max_connections
                    or same >= self.limits.max_connections_per_address):
                self._note_refusal(address, same)
                return None
            peer = _Peer(address, os.dup(raw.fileno()),
                         self._clock() + self.limits.hello_timeout_s)
            self._peers.add(peer)
            return peer

    def _note_refusal(self, address: str, same: int) -> None:
        self._refused += 1
        now = self._clock()
        if now >= self._refusal_logged_at + REFUSAL_LOG_INTERVAL_S:  # a flood must not flood logs
            log.warning("data connections refused: %d since the last report (now %d open, %d from"
                        " %s)", self._refused, len(self._peers), same, address)
            self._refused, self._refusal_logged_at = 0, now

    def _reap_loop(self) -> None:
        while not self._stopping.wait(REAP_INTERVAL_S):
            now = self._clock()
            with self._lock:
                for peer in self._peers:
                    if peer.deadline is not None and now > peer.deadline:
                        peer.deadline = None
                        _shutdown_fd(peer.fd)

    def _serve(self, raw: socket.socket, peer: _Peer) -> None:
        conn: DataConnection | None = None
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.settimeout(self.limits.hello_timeout_s)
            try:
                sock = self._ctx.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                log.info("TLS handshake failed: %s", exc)
                return
            conn = DataConnection(sock, self._open_session,
                                  preauth_frame_bytes=self.limits.preauth_frame_bytes)
            conn.on_session = lambda s: self._on_hello(s.spec.job_id, conn, peer)
            conn.serve()
        finally:
            with self._lock:
                self._peers.discard(peer)
                os.close(peer.fd)
                if conn is not None and conn.session is not None:
                    self._conns.get(conn.session.spec.job_id, set()).discard(conn)
            raw.close()
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sock.close()
            self.on_closed(peer.address)

    def _on_hello(self, job_id: str, conn: DataConnection | None, peer: _Peer) -> None:
        with self._lock:
            peer.deadline = None
            if conn is not None:
                self._conns.setdefault(job_id, set()).add(conn)


def accept_until(listener: socket.socket, stopping: threading.Event,
                 take: Callable[[socket.socket, str], object]) -> None:
    """Accept until `stopping` is set; each connection goes to take(socket, peer address)."""
    while not stopping.is_set():
        try:
            raw, addr = listener.accept()
        except OSError:
            if stopping.is_set():
                return
            log.exception("data port accept failed")
            time.sleep(0.1)  # e.g. out of descriptors: let connections end, then go on
            continue
        take(raw, str(addr[0]))


def _shutdown_fd(fd: int) -> None:
    """shutdown(2) a socket another thread owns: its blocked recv returns at once."""
    sock = socket.socket(fileno=fd)
    try:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.detach()
