"""Running the source's system tools (lvs, lvcreate, dmsetup, losetup): one port, one adapter."""

import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing.Protocol is Python 3.8+; the agent runs on 3.6
    from typing import Protocol  # novermin: type checking only
else:
    Protocol = object

COMMAND_TIMEOUT_S = 60.0


class CommandError(Exception):
    """A tool is missing or failed; the message names the command and its error output."""

    def __init__(self, argv: "Sequence[str]", detail: str) -> None:
        super().__init__(f"`{' '.join(argv)}` failed: {detail}")
        self.argv = tuple(argv)
        self.detail = detail


class Runner(Protocol):
    """Runs one command and returns its standard output; raises CommandError."""

    def __call__(self, argv: "Sequence[str]") -> str: ...


def run_command(argv: "Sequence[str]") -> str:
    """The real runner: no shell, bounded in time, C locale so the output parses."""
    try:
        proc = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=COMMAND_TIMEOUT_S,
                              env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommandError(argv, str(exc)) from exc
    if proc.returncode != 0:
        raise CommandError(argv, (proc.stderr or proc.stdout).strip()[:500]
                           or f"exit status {proc.returncode}")
    return proc.stdout
