"""Progress reports off the data path: writers leave each job's newest report, a thread sends it.

A progress report is a database commit (the embedded control plane, where the writers of every
job share SQLite's one write lock) or an HTTP call (a transit host). Made from a chunk writer's
commit, it held that writer, and with it the job's acknowledgements, for as long as the lock or
the network took: with ten jobs syncing on one host, 18 % of the server's samples were writers
waiting there, the agents' sockets filled and their compression tuners, reading that as a slow
link, compressed harder. Only a job's newest report matters, so one still waiting is replaced by the
next. What else the transit tells the control plane about a job (its sync done or failed) first
sends the job's waiting report, so the control plane never sees progress after the end.
"""

from __future__ import annotations

import logging
import threading

from rehost.transit.ports import DiskDigest, ReceiverProgress, TransitControl, TransitJobSpec

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 10.0


class ProgressRelay:
    """A TransitControl that forwards everything, progress reports from its own thread."""

    def __init__(self, control: TransitControl) -> None:
        self._control = control
        self._cond = threading.Condition()
        self._waiting: dict[str, ReceiverProgress] = {}
        self._sending = threading.Lock()  # held from taking a report until it is sent
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="transit-progress", daemon=True)

    def start(self) -> None:
        """Start the sending thread."""
        self._thread.start()

    def stop(self) -> None:
        """Send what is waiting, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_TIMEOUT_S)
        with self._cond:
            left = list(self._waiting)
        for job_id in left:  # a thread that did not end in time (a hung control plane)
            self._flush(job_id)

    def lookup(self, token: str) -> TransitJobSpec | None:
        """Forwarded."""
        return self._control.lookup(token)

    def report_progress(self, progress: ReceiverProgress) -> None:
        """Kept as the job's newest report; returns at once (sent from the relay's thread)."""
        with self._cond:
            self._waiting[progress.job_id] = progress
            self._cond.notify()
        if not self._thread.is_alive():  # not started (or stopped): the caller sends it
            self._flush(progress.job_id)

    def sync_done(self, job_id: str, digests: tuple[DiskDigest, ...]) -> None:
        """The job's waiting report first, then forwarded."""
        self._flush(job_id)
        self._control.sync_done(job_id, digests)

    def sync_failed(self, job_id: str, code: str, message: str) -> None:
        """The job's waiting report first, then forwarded."""
        self._flush(job_id)
        self._control.sync_failed(job_id, code, message)

    def log_plan(self, job_id: str, lines: list[str]) -> None:
        """Forwarded."""
        self._control.log_plan(job_id, lines)

    def _flush(self, job_id: str) -> None:
        with self._sending:
            with self._cond:
                progress = self._waiting.pop(job_id, None)
            if progress is not None:
                self._send(progress)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._stopping:
                    self._cond.wait()
                if not self._waiting:
                    return
                job_id = next(iter(self._waiting))
            self._flush(job_id)  # taken and sent under one lock: a job's reports stay in order

    def _send(self, progress: ReceiverProgress) -> None:
        try:
            self._control.report_progress(progress)
        except Exception:  # progress is advisory (the journal is the truth): the next one may pass
            log.exception("progress of job %s not reported", progress.job_id)
