"""The thaw guardian: a child process that thaws the frozen filesystems if the agent dies.

The watchdog thread of `freeze.py` dies with the agent: a SIGKILL or the OOM killer during
the catch-up pass would leave the server's filesystems frozen and every write on it hanging.
So before the first freeze the agent starts this module as a separate Python process
(`python -I -S -c <this file's source> LIMIT MOUNT...`, a fork+exec by `subprocess`, which is
safe in the threaded agent; a bare fork would copy locks held by the sender threads). Every
import and every open happens before it says `ready`, so nothing is read or executed from a
filesystem once it is frozen. It then holds a directory descriptor of each mount point and the
read end of a pipe from the agent, and thaws them all (FITHAW; EINVAL, not frozen, is fine)
when:

- the pipe reaches end of file without the release byte (the agent died, however),
- its parent changes (PR_SET_PDEATHSIG sends SIGTERM as a second line, and the loop also
  polls the parent id once a second),
- the limit passes (the agent is alive but stuck, or stopped: its own watchdog thaws first),
- it gets SIGTERM, SIGHUP or SIGINT.

On the normal path the agent thaws itself, then writes the release byte: the guardian exits
without touching the filesystems (so it never thaws a later freeze). It writes to no file;
its only output is one line on its stdout pipe to the agent. Python 3.6, standard library only.
"""

import contextlib
import errno
import fcntl
import os
import select
import signal
import sys
import time
from typing import List, Tuple

FITHAW = 0xC0045878  # _IOWR('X', 120, int)
PR_SET_PDEATHSIG = 1
READY = b"ready\n"
RELEASE = b"X"


class _Stop(Exception):
    """A signal asked the guardian to thaw and exit."""


def _on_signal(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def _set_parent_death_signal() -> None:
    """PR_SET_PDEATHSIG(SIGTERM), best effort (ctypes may be missing on a minimal Python)."""
    try:
        import ctypes  # loaded before `ready`, only in the guardian
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        pass


def thaw(fds: "List[Tuple[str, int]]") -> "List[str]":
    """FITHAW on every descriptor; the errors other than 'not frozen'."""
    errors = []
    for point, fd in fds:
        try:
            fcntl.ioctl(fd, FITHAW, 0)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                errors.append(f"{point}: {exc}")
    return errors


def _watch(parent: int, limit_s: float) -> str:
    """Wait for the release byte; the reason to thaw otherwise ('' when released)."""
    deadline = time.monotonic() + limit_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "limit"
        ready, _, _ = select.select([0], [], [], min(left, 1.0))
        if os.getppid() != parent:
            return "agent-died"
        if ready:
            data = os.read(0, 64)
            if RELEASE in data:
                return ""
            if not data:
                return "agent-died"


def main(argv: "List[str]") -> int:
    """Guard the mount points argv[2:] for argv[1] seconds."""
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, _on_signal)
    parent = os.getppid()
    limit_s = float(argv[1])
    fds = [(p, os.open(p, os.O_RDONLY | os.O_DIRECTORY)) for p in argv[2:]]
    _set_parent_death_signal()
    try:
        os.write(1, READY)
        reason = _watch(parent, limit_s)
    except _Stop:
        reason = "signal"
    except OSError:  # the pipe broke
        reason = "agent-died"
    if not reason:
        return 0
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)  # nothing interrupts the thaw
    errors = thaw(fds)
    with contextlib.suppress(OSError):  # the agent may be gone
        os.write(1, f"thawed {reason} {'; '.join(errors)}\n".encode())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
