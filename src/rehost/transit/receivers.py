"""The embedded data port served by several receiver processes (`rehost server --receivers N`).

One Python process receiving every job spends its time switching 20 TLS connection threads
under one interpreter lock; here the port's router passes each connection to one of N receiver
processes (`rehost.transit.receiverproc`), all connections of one job to the same process.
The route key the agent offers names the job without its token: the first connection of a
new key goes to the process holding the fewest jobs, and the key is kept for that process
once a lookup through it confirms the job (an unconfirmed key expires, so made-up keys cannot
fill the table). An agent offering no key (older than this port) always reaches process 0.

Every call a receiver makes crosses its link and is answered here against the real control
plane. A receiver that dies is started again; its jobs' agents reconnect and resume from the
journals on disk, as after a transit restart.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rehost.pki import IssuedCert, transit_server_context
from rehost.protocol.dataroute import route_key
from rehost.protocol.fields import Doc, req_str, req_strs
from rehost.transit import linkcodec
from rehost.transit.limits import DataPortLimits
from rehost.transit.pool import ReceiverPool
from rehost.transit.ports import TransitControl
from rehost.transit.router import DataRouter
from rehost.transit.workerlink import Link, LinkClosed, RemoteCallError

log = logging.getLogger(__name__)
WHERE = linkcodec.WHERE
UNCONFIRMED_ROUTE_S = 60.0  # a new key's first connection must reach a lookup within this
STOP_TIMEOUT_S = 15.0
RESTART_DELAY_S = 1.0


@dataclass(eq=False)
class _Receiver:
    """One receiver process and its link."""

    index: int
    proc: subprocess.Popen[bytes]
    link: Link


class ReceiverProcesses:
    """N receiver processes behind one data port; the services' ListenerPool."""

    def __init__(self, *, control: TransitControl, cert: IssuedCert, host: str, port: int,
                 limits: DataPortLimits, processes: int, log_format: str = "text",
                 log_level: str = "info") -> None:
        if processes < 2:
            raise ValueError("ReceiverProcesses needs 2 or more processes (1: ReceiverPool)")
        self._control, self._cert, self._limits = control, cert, limits
        self._count = processes
        self._logging = {"log_format": log_format, "log_level": log_level}
        self.router = DataRouter(host=host, port=port, limits=limits, hand_off=self._hand_off)
        self._receivers: list[_Receiver | None] = [None] * processes
        self._routes: dict[str, tuple[int, float | None]] = {}  # key -> (index, expiry)
        self._job_routes: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stopping = False

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) of the data port."""
        return self.router.address

    def problem(self) -> str:
        """Which receiver processes are not running ("" when all are)."""
        with self._lock:
            down = [str(i) for i, r in enumerate(self._receivers) if r is None]
        return (f"receiver process {', '.join(down)} of {self._count} not running (being started"
                f" again)") if down else ""

    def open_connections(self) -> int:
        """Data connections open on the port."""
        return self.router.open_connections()

    def placement(self) -> dict[str, int]:
        """The pid of the receiver process serving each job it has looked up."""
        with self._lock:
            placed = {job: self._routes.get(key) for job, key in self._job_routes.items()}
            return {job: receiver.proc.pid for job, where in placed.items()
                    if where is not None and (receiver := self._receivers[where[0]])}

    def start(self) -> None:
        """Start every receiver process, then accept."""
        for index in range(self._count):
            self._register(self._spawn(index))
        self.router.start()

    def stop(self) -> None:
        """Stop accepting, then stop every receiver (its connections drop, files close)."""
        self.router.stop()
        with self._lock:
            self._stopping = True
            receivers = [r for r in self._receivers if r is not None]
        for receiver in receivers:
            with contextlib.suppress(LinkClosed, RemoteCallError):
                receiver.link.call("stop", {}, timeout_s=STOP_TIMEOUT_S)
        for receiver in receivers:
            try:
                receiver.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("receiver process %d did not stop; killed", receiver.proc.pid)
                receiver.proc.kill()
                receiver.proc.wait()
            receiver.link.close()

    def disconnect_job(self, job_id: str) -> None:
        """Pause: every receiver drops the job's connections."""
        self._broadcast("disconnect", {"job_id": job_id})

    def release_job(self, job_id: str, work_dir: Path) -> None:
        """Release: the job's receiver closes its files; the work dir is deleted."""
        self._broadcast("release", {"job_id": job_id, "work_dir": str(work_dir)})
        shutil.rmtree(work_dir, ignore_errors=True)  # also when no receiver answered
        with self._lock:
            key = self._job_routes.pop(job_id, None)
            if key is not None:
                self._routes.pop(key, None)

    def _broadcast(self, method: str, body: Doc) -> None:
        with self._lock:
            receivers = [r for r in self._receivers if r is not None]
        for receiver in receivers:
            try:
                receiver.link.call(method, body)
            except (LinkClosed, RemoteCallError) as exc:  # a dead one holds no connection
                log.warning("receiver process %d: %s", receiver.index, exc)

    def _spawn(self, index: int) -> _Receiver:
        """Start receiver `index` and send it `start`; on failure nothing is left running."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "rehost.transit.receiverproc", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        holder: list[_Receiver] = []
        link = Link(ours, lambda m, b, s: self._answer(index, m, b, s), name=f"receiver-{index}",
                    on_close=lambda: self._on_gone(holder[0]) if holder else None)
        receiver = _Receiver(index, proc, link)
        holder.append(receiver)
        link.start()
        try:
            link.call("start", {"cert_pem": self._cert.cert_pem.decode("ascii"),
                                "key_pem": self._cert.key_pem.decode("ascii"),
                                **self._logging, **linkcodec.limits_doc(self._limits)})
        except BaseException:
            link.close()
            _reap(proc)
            raise
        log.info("receiver process %d started (pid %d)", index, proc.pid)
        return receiver

    def _on_gone(self, receiver: _Receiver) -> None:
        """A registered receiver's link closed: forget its routes and start it again."""
        index = receiver.index
        with self._lock:
            if self._receivers[index] is not receiver:
                return  # not (or no longer) registered: whoever started it handles it
            self._receivers[index] = None
            self._routes = {k: v for k, v in self._routes.items() if v[0] != index}
            stopping = self._stopping
        if stopping:
            return
        log.error("receiver process %d ended unexpectedly (exit %s); starting it again",
                  index, _reap(receiver.proc))
        threading.Thread(target=self._restart, args=(index,), name="receiver-restart",
                         daemon=True).start()

    def _restart(self, index: int) -> None:
        while True:
            time.sleep(RESTART_DELAY_S)  # a receiver that dies at once must not spin
            with self._lock:
                if self._stopping:
                    return
            try:
                receiver = self._spawn(index)
                break
            except (OSError, LinkClosed, RemoteCallError):
                log.exception("receiver process %d could not be started again; retrying", index)
        with self._lock:
            if self._stopping:
                receiver.link.close()
                return
        self._register(receiver)

    def _register(self, receiver: _Receiver) -> None:
        with self._lock:
            self._receivers[receiver.index] = receiver
        if receiver.link.closed:  # it died before it was registered: its close went unheard
            self._on_gone(receiver)

    def _hand_off(self, sock: socket.socket, address: str, route: str | None) -> None:
        receiver = self._pick(route)
        if receiver is None:
            raise LinkClosed("no receiver process is running")
        receiver.link.notify("adopt", {"address": address}, [sock])

    def _pick(self, route: str | None) -> _Receiver | None:
        now = time.monotonic()
        with self._lock:
            if route is None:
                return self._receivers[0]
            self._routes = {k: v for k, v in self._routes.items() if v[1] is None or v[1] > now}
            known = self._routes.get(route)
            if known is not None and self._receivers[known[0]] is not None:
                return self._receivers[known[0]]
            alive = [r for r in self._receivers if r is not None]
            if not alive:
                return None
            jobs = [sum(1 for i, _e in self._routes.values() if i == r.index) for r in alive]
            chosen = alive[jobs.index(min(jobs))]
            self._routes[route] = (chosen.index, now + UNCONFIRMED_ROUTE_S)
            return chosen

    def _answer(self, index: int, method: str, body: Doc,
                sockets: list[socket.socket]) -> Doc | None:
        for sock in sockets:  # a receiver never sends sockets
            sock.close()
        if method == "lookup":
            return self._lookup(index, req_str(body, "token", WHERE))
        if method == "progress":
            self._control.report_progress(linkcodec.parse_progress(body))
        elif method == "sync_done":
            self._control.sync_done(*linkcodec.parse_digests(body))
        elif method == "sync_failed":
            self._control.sync_failed(req_str(body, "job_id", WHERE),
                                      req_str(body, "code", WHERE),
                                      req_str(body, "message", WHERE))
        elif method == "log_plan":
            self._control.log_plan(req_str(body, "job_id", WHERE),
                                   list(req_strs(body, "lines", WHERE)))
        elif method == "closed":
            self.router.closed(req_str(body, "address", WHERE))
        else:
            raise ValueError(f"{WHERE}: unknown call {method!r}")
        return None

    def _lookup(self, index: int, token: str) -> Doc:
        spec = self._control.lookup(token)
        if spec is not None:
            key = route_key(token)
            with self._lock:  # confirmed: the job's later connections come to this receiver
                self._routes[key] = (index, None)
                self._job_routes[spec.job_id] = key
        return linkcodec.spec_doc(spec)


def receiving_pool(*, control: TransitControl, cert: IssuedCert, host: str, port: int,
                   limits: DataPortLimits, processes: int, log_format: str = "text",
                   log_level: str = "info") -> ReceiverPool | ReceiverProcesses:
    """The data port: received in this process (processes == 1) or by that many processes."""
    if processes == 1:
        return ReceiverPool(control=control, ssl_context=transit_server_context(cert), host=host,
                            port=port, limits=limits)
    return ReceiverProcesses(control=control, cert=cert, host=host, port=port, limits=limits,
                             processes=processes, log_format=log_format, log_level=log_level)


def _reap(proc: subprocess.Popen[bytes]) -> int | None:
    """The exit code of a receiver whose link closed (killed if it somehow lives on)."""
    try:
        return proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
