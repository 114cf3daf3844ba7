"""Failures that could not be written: kept in memory and retried by the scheduler.

A full disk can refuse the very transaction that marks a job InError (SQLite on the data
volume); the failure is then deferred and written, from outside the failing transaction, as
soon as a write succeeds again.
"""

from __future__ import annotations

import errno
import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from rehost.domain.errors import RehostError
from rehost.domain.ids import JobId
from rehost.services import dataplane
from rehost.services.context import ServiceContext

log = logging.getLogger(__name__)
_FULL_TEXTS = ("database or disk is full", "no space left on device", "could not extend file",
               "disk full")


@dataclass(frozen=True, slots=True)
class Failure:
    """A job failure to record (code, bilingual message and hint)."""

    job_id: JobId
    code: str
    message_en: str
    message_zh: str
    hint: str = ""
    hint_zh: str = ""


class DeferredFailures:
    """Failures waiting for the database to accept writes again, newest per job."""

    def __init__(self) -> None:
        self._pending: dict[str, Failure] = {}
        self._lock = threading.Lock()

    def add(self, failure: Failure) -> None:
        """Keep a failure to write later (a newer one for the same job replaces it)."""
        with self._lock:
            self._pending[failure.job_id] = failure

    def take(self) -> list[Failure]:
        """Every pending failure, removed from the queue."""
        with self._lock:
            taken, self._pending = list(self._pending.values()), {}
        return taken

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)


DEFERRED = DeferredFailures()  # one per process: builds, transits and the scheduler share it


def is_disk_full(exc: BaseException) -> bool:
    """Whether an exception says a disk (or the database's) is full."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc).lower()
    return isinstance(exc, OperationalError | OSError) and any(t in text for t in _FULL_TEXTS)


def fail_or_defer(ctx: ServiceContext, failure: Failure,
                  deferred: DeferredFailures = DEFERRED) -> bool:
    """Mark the job InError now, or defer it if the database refuses; True when written."""
    try:
        _write(ctx, failure)
        return True
    except RehostError as exc:  # e.g. the job was paused or deleted meanwhile
        log.warning("could not mark %s InError: %s", failure.job_id, exc)
        return True
    except Exception as exc:  # the database refused the write: retry from the scheduler
        log.warning("could not mark %s InError now (%s); the scheduler retries",
                    failure.job_id, exc)
        deferred.add(_as_disk_full(failure, exc))
        return False


def retry_deferred(ctx: ServiceContext, deferred: DeferredFailures = DEFERRED) -> int:
    """Write the deferred failures the database accepts now; returns how many were written."""
    written = 0
    for failure in deferred.take():
        written += fail_or_defer(ctx, failure, deferred)
    return written


def _write(ctx: ServiceContext, failure: Failure) -> None:
    dataplane.fail_job(ctx, failure.job_id, code=failure.code, message_en=failure.message_en,
                       message_zh=failure.message_zh, hint=failure.hint, hint_zh=failure.hint_zh)


def _as_disk_full(failure: Failure, exc: Exception) -> Failure:
    """A failure the database refused because its disk is full becomes Server.DiskFull."""
    if not is_disk_full(exc) or failure.code.endswith("DiskFull"):
        return failure
    return Failure(failure.job_id, "Server.DiskFull",
                   f"the server's disk is full ({failure.code}: {failure.message_en})",
                   f"服务器磁盘空间不足（{failure.code}：{failure.message_zh}）",
                   "Free space on the server's data volume, then start the job again.",
                   "请清理服务器数据卷的磁盘空间，然后重新开始任务。")
