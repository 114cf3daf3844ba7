"""TransitPool: one TLS data listener serving many jobs, routed by the job data token."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rehost.transit.connection import DataConnection
from rehost.transit.ports import TransitControl
from rehost.transit.session import JobSession, TransitStats

log = logging.getLogger(__name__)
TLS_HANDSHAKE_TIMEOUT_S = 30.0


class TransitPool:
    """Accepts agent data connections; one thread per connection, one session per job."""

    def __init__(
        self,
        *,
        control: TransitControl,
        ssl_context: ssl.SSLContext,
        host: str = "0.0.0.0",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._control = control
        self._ctx = ssl_context
        self._clock = clock
        self._listener = socket.create_server((host, port), backlog=64, reuse_port=False)
        self._sessions: dict[str, JobSession] = {}
        self._conns: dict[str, set[DataConnection]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._accept_loop, name="transit-accept", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the listener is bound to."""
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start accepting connections in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, drop every connection and close all job files."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._listener.close()
        self._thread.join(timeout=5)
        with self._lock:
            job_ids = list(self._sessions)
        for job_id in job_ids:
            self.disconnect_job(job_id)
            self._close_session(job_id)

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

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                raw, _addr = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                log.exception("transit accept failed")
                time.sleep(0.1)
                continue
            threading.Thread(
                target=self._serve, args=(raw,), name="transit-conn", daemon=True
            ).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(TLS_HANDSHAKE_TIMEOUT_S)
        try:
            sock = self._ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.info("TLS handshake failed: %s", exc)
            raw.close()
            return
        conn = DataConnection(sock, self._open_session)
        conn.on_session = lambda s: self._track(s.spec.job_id, conn, add=True)
        conn.serve()
        if conn.session is not None:
            self._track(conn.session.spec.job_id, conn, add=False)

    def _track(self, job_id: str, conn: DataConnection, *, add: bool) -> None:
        with self._lock:
            conns = self._conns.setdefault(job_id, set())
            if add:
                conns.add(conn)
            else:
                conns.discard(conn)
