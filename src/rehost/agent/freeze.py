"""fsfreeze for the final catch-up pass: bounded in time, always thawed.

Freezing and thawing use the FIFREEZE/FITHAW ioctls (what `fsfreeze -f/-u` call), so that the
thaw needs no program to be started while a filesystem may be frozen. A watchdog thread thaws
every frozen filesystem when the limit passes; the context manager's exit thaws in any case.
Both die with the agent, so the real freezer first starts a thaw guardian, a separate process
that thaws if the agent is killed during the freeze (`thawguard.py`).
While frozen, the caller writes nothing (no log line either: the journal may live there).
"""

import errno
import fcntl
import logging
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, List, Optional

from rehost.agent import thawguard

if TYPE_CHECKING:  # typing.Protocol is Python 3.8+; the agent runs on 3.6
    from typing import Protocol  # novermin: type checking only
else:
    Protocol = object

FIFREEZE = 0xC0045877  # _IOWR('X', 119, int)
FITHAW = 0xC0045878  # _IOWR('X', 120, int)
DEFAULT_FREEZE_LIMIT_S = 20.0
GUARDIAN_GRACE_S = 1.0  # the guardian's limit is the watchdog's plus this: the agent thaws first
GUARDIAN_START_S = 30.0
log = logging.getLogger(__name__)


class Guardian:
    """The agent's end of a running thaw guardian (see thawguard.py)."""

    def __init__(self, process: "subprocess.Popen[bytes]") -> None:
        self.process = process

    @classmethod
    def start(cls, mount_points: "Sequence[str]", limit_s: float) -> "Guardian":
        """Start the guardian and wait until it holds the mount points (before any freeze)."""
        source = _guardian_source()
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", source, repr(limit_s + GUARDIAN_GRACE_S),
             *mount_points], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, close_fds=True, cwd="/")
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], GUARDIAN_START_S)
        line = os.read(process.stdout.fileno(), 64) if ready else b""
        if line != thawguard.READY:
            process.kill()
            process.wait()
            raise OSError(errno.ECHILD, f"the thaw guardian did not start ({line!r})")
        return cls(process)

    def release(self) -> str:
        """Tell the guardian to exit without thawing (call after the thaw); what it did."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(thawguard.RELEASE)
            self.process.stdin.close()
        except OSError:
            pass  # it is gone already
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return "the thaw guardian did not exit and was killed"
        said = self.process.stdout.read().decode("utf-8", "replace").strip()
        self.process.stdout.close()
        if said:
            return f"the thaw guardian {said}"
        if code != 0:
            return f"the thaw guardian ended with status {code} during the freeze"
        return ""


def _guardian_source() -> str:
    """The guardian module's source, also from inside the pyz (zipimporter.get_source)."""
    loader = getattr(thawguard, "__loader__", None)
    source = loader.get_source(thawguard.__name__) if loader is not None else None
    if not source:
        raise OSError(errno.ENOENT, "the thaw guardian's source is not readable")
    return str(source)


class Freezer(Protocol):
    """Freezes and thaws one mounted filesystem by its mount point."""

    def freeze(self, mount_point: str) -> None: ...
    def thaw(self, mount_point: str) -> None: ...
    def guardian(self, mount_points: "Sequence[str]", limit_s: float) -> "Optional[Guardian]":
        """A process that thaws the mount points if the agent dies (None: no such need)."""


class IoctlFreezer:
    """The real freezer (needs CAP_SYS_ADMIN); its freezes are guarded by a process."""

    def guardian(self, mount_points: "Sequence[str]", limit_s: float) -> "Optional[Guardian]":
        """Start a thaw guardian for the mount points (None, and a warning, if it cannot)."""
        try:
            return Guardian.start(mount_points, limit_s)
        except (OSError, ValueError) as exc:
            log.warning("no thaw guardian (%s): only the agent's watchdog thread thaws / "
                        "无法启动解冻守护进程（%s）：仅由代理的看门狗线程解冻", exc, exc)
            return None

    def freeze(self, mount_point: str) -> None:
        """FIFREEZE on the mount point."""
        self._ioctl(mount_point, FIFREEZE)

    def thaw(self, mount_point: str) -> None:
        """FITHAW; a filesystem that is not frozen (EINVAL) is fine."""
        try:
            self._ioctl(mount_point, FITHAW)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise

    @staticmethod
    def _ioctl(mount_point: str, request: int) -> None:
        fd = os.open(mount_point, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.ioctl(fd, request, 0)
        finally:
            os.close(fd)


class FreezeGuard:
    """The frozen filesystems of one catch-up pass and whether the watchdog thawed them."""

    def __init__(self, freezer: Freezer, limit_s: float,
                 on_expire: "Callable[[], None] | None" = None) -> None:
        self.freezer, self.limit_s, self.on_expire = freezer, limit_s, on_expire
        self.frozen: List[str] = []
        self.expired = threading.Event()  # the watchdog thawed: the pass is not consistent
        self.errors: List[str] = []
        self.guardian_note = ""  # what the guardian did, when it did more than wait
        self._lock = threading.Lock()

    def thaw_all(self) -> None:
        """Thaw everything frozen (idempotent; records errors instead of raising)."""
        with self._lock:
            while self.frozen:
                mount_point = self.frozen.pop()
                try:
                    self.freezer.thaw(mount_point)
                except OSError as exc:
                    self.errors.append(f"{mount_point}: {exc}")

    def _expire(self) -> None:
        self.expired.set()
        self.thaw_all()
        if self.on_expire is not None:
            self.on_expire()


@contextmanager
def frozen(mount_points: "Sequence[str]", *, freezer: Freezer, limit_s: float,
           on_expire: "Callable[[], None] | None" = None) -> "Iterator[FreezeGuard]":
    """Freeze the filesystems for at most limit_s; thawed on exit whatever happens."""
    guard = FreezeGuard(freezer, limit_s, on_expire)
    guardian = freezer.guardian(mount_points, limit_s) if mount_points else None
    watchdog = threading.Timer(limit_s, guard._expire)
    watchdog.daemon = True
    watchdog.start()  # the limit counts from the first freeze
    try:
        for mount_point in mount_points:
            with guard._lock:
                if guard.expired.is_set():
                    break
                freezer.freeze(mount_point)
                guard.frozen.append(mount_point)
        yield guard
    finally:
        watchdog.cancel()
        guard.thaw_all()
        if guardian is not None:
            guard.guardian_note = guardian.release()
            if guard.guardian_note:
                log.warning("%s / 解冻守护进程异常：%s", guard.guardian_note,
                            guard.guardian_note)
