"""One receiver process of the server's data port: `python -m rehost.transit.receiverproc FD`.

The server starts it with one end of a Unix socket pair as FD, sends `start` (the transit
certificate and the data port limits), then hands it the data connections of its jobs. The
process runs a listener-less `ReceiverPool` whose control plane is `LinkControl`: every call
crosses the link and the server answers it against its database. It ends when the server
says `stop` or the link closes (the server died): its connections then drop, and each agent
reconnects and resumes from the journals this process left on disk.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from rehost.logformat import configure_logging
from rehost.pki import IssuedCert, transit_server_context
from rehost.protocol.fields import Doc, req_str
from rehost.transit import linkcodec
from rehost.transit.pool import ReceiverPool
from rehost.transit.ports import DiskDigest, ReceiverProgress, TransitJobSpec
from rehost.transit.workerlink import Link

log = logging.getLogger(__name__)
WHERE = linkcodec.WHERE


class LinkControl:
    """TransitControl answered by the server over the link."""

    def __init__(self, link: Link) -> None:
        self._link = link

    def lookup(self, token: str) -> TransitJobSpec | None:
        """Asked of the server."""
        return linkcodec.parse_spec(self._link.call("lookup", {"token": token}))

    def report_progress(self, progress: ReceiverProgress) -> None:
        """Sent to the server (from the pool's progress relay thread)."""
        self._link.call("progress", linkcodec.progress_doc(progress))

    def sync_done(self, job_id: str, digests: tuple[DiskDigest, ...]) -> None:
        """Sent to the server; returns once it is stored."""
        self._link.call("sync_done", linkcodec.digests_doc(job_id, digests))

    def sync_failed(self, job_id: str, code: str, message: str) -> None:
        """Sent to the server; returns once it is stored."""
        self._link.call("sync_failed", {"job_id": job_id, "code": code, "message": message})

    def log_plan(self, job_id: str, lines: list[str]) -> None:
        """Sent to the server."""
        self._link.call("log_plan", {"job_id": job_id, "lines": lines})


class ReceiverProcess:
    """The pool of this process and the answers to the server's calls."""

    def __init__(self, sock: socket.socket) -> None:
        self.link = Link(sock, self._handle, name="server", on_close=self._on_link_closed)
        self.pool: ReceiverPool | None = None
        self.ended = threading.Event()

    def _handle(self, method: str, body: Doc, sockets: list[socket.socket]) -> Doc | None:
        if method == "adopt":
            self._adopt(req_str(body, "address", WHERE), sockets)
            return None
        if method == "start":
            return self._start(body)
        pool = self._pool()
        if method == "disconnect":
            pool.disconnect_job(req_str(body, "job_id", WHERE))
        elif method == "release":
            pool.release_job(req_str(body, "job_id", WHERE),
                             Path(req_str(body, "work_dir", WHERE)))
        elif method == "stop":
            self.ended.set()
        else:
            raise ValueError(f"{WHERE}: unknown call {method!r}")
        return None

    def _start(self, body: Doc) -> Doc:
        cert = IssuedCert(req_str(body, "cert_pem", WHERE).encode(),
                          req_str(body, "key_pem", WHERE).encode())
        limits = linkcodec.parse_limits(body)
        configure_logging(log_format=req_str(body, "log_format", WHERE),
                          log_level=req_str(body, "log_level", WHERE))
        pool = ReceiverPool(control=LinkControl(self.link),
                            ssl_context=transit_server_context(cert), limits=limits, listen=False)
        pool.on_closed = lambda address: self._notify_closed(address)
        pool.start()
        self.pool = pool
        return {"pid": os.getpid()}

    def _adopt(self, address: str, sockets: list[socket.socket]) -> None:
        for raw in sockets:
            if not self._pool().adopt(raw, address):
                self._notify_closed(address)

    def _notify_closed(self, address: str) -> None:
        if not self.link.closed:
            with contextlib.suppress(ConnectionError):
                self.link.notify("closed", {"address": address})

    def _pool(self) -> ReceiverPool:
        if self.pool is None:
            raise RuntimeError("the receiver process was not started")
        return self.pool

    def _on_link_closed(self) -> None:
        self.ended.set()

    def run(self) -> None:
        """Serve until the server says stop or goes away."""
        self.link.start()
        self.ended.wait()
        if self.pool is not None:
            self.pool.stop()
        self.link.close()


def main(argv: list[str]) -> int:
    """Wire and run; the single argument is the link's file descriptor."""
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m rehost.transit.receiverproc FD (started by `rehost server`)",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s receiver-{os.getpid()} %(name)s %(message)s")
    # the server stops it over the link, or the link closes when the server ends: a signal to
    # the whole group (Ctrl-C, systemd's stop) must not end a receiver before the server knows
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[0]))
    ReceiverProcess(sock).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
