"""guestfish --listen: commands go out only once the forked listener's socket listens."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from rehost.imaging.guestfish import (
    GUESTFISH,
    PROC_NET_UNIX,
    SOCKET_PATH,
    GuestfishShell,
    launch_listener,
    listening,
)


def test_a_bound_socket_listens_only_after_listen(tmp_path: Path) -> None:
    path = str(tmp_path / "sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        assert not listening(path, PROC_NET_UNIX.read_text())
        sock.bind(path)
        assert not listening(path, PROC_NET_UNIX.read_text())  # bound, connect refused
        sock.listen(1)
        assert listening(path, PROC_NET_UNIX.read_text())
        assert not listening(path + "x", PROC_NET_UNIX.read_text())


def test_unbound_and_abstract_sockets_are_not_mistaken_for_the_path() -> None:
    text = ("Num       RefCount Protocol Flags    Type St Inode Path\n"
            "0000000000000000: 00000002 00000000 00010000 0001 01 1 @/tmp/s\n"
            "0000000000000000: 00000002 00000000 00000000 0001 03 2\n"
            "0000000000000000: 00000002 00000000 00000000 0001 03 3 /tmp/s\n")
    assert not listening("/tmp/s", text)
    assert listening("/tmp/s", text + "0000000000000000: 00000002 00000000 00010000 0001 01 "
                     "4 /tmp/s\n")


def test_a_listener_answers_its_first_command_at_once() -> None:
    """Many starts in a row, each followed at once by a command (the race fish/rc.c names)."""
    for _ in range(5):
        pid = launch_listener([GUESTFISH, "--listen"], dict(os.environ))
        shell = GuestfishShell(pid)
        try:
            assert listening(SOCKET_PATH.format(euid=os.geteuid(), pid=pid),
                             PROC_NET_UNIX.read_text())
            shell.run("set-smp", "2")
            assert shell.run("get-smp").strip() == "2"
        finally:
            shell.run("exit", ok=True)
