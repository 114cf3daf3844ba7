"""fsfreeze for the final catch-up pass: bounded in time, always thawed.

Freezing and thawing use the FIFREEZE/FITHAW ioctls (what `fsfreeze -f/-u` call), so that the
thaw needs no program to be started while a filesystem may be frozen. A watchdog thread thaws
every frozen filesystem when the limit passes; the context manager's exit thaws in any case.
While frozen, the caller writes nothing (no log line either: the journal may live there).
"""

import errno
import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, List

if TYPE_CHECKING:  # typing.Protocol is Python 3.8+; the agent runs on 3.6
    from typing import Protocol  # novermin: type checking only
else:
    Protocol = object

FIFREEZE = 0xC0045877  # _IOWR('X', 119, int)
FITHAW = 0xC0045878  # _IOWR('X', 120, int)
DEFAULT_FREEZE_LIMIT_S = 20.0


class Freezer(Protocol):
    """Freezes and thaws one mounted filesystem by its mount point."""

    def freeze(self, mount_point: str) -> None: ...
    def thaw(self, mount_point: str) -> None: ...


class IoctlFreezer:
    """The real freezer (needs CAP_SYS_ADMIN)."""

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
