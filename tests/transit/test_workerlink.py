"""The receiver link: calls both ways, errors carried back, sockets passed, a gone peer."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from rehost.protocol.fields import Doc
from rehost.transit import linkcodec
from rehost.transit.limits import DataPortLimits
from rehost.transit.ports import (
    DiskDigest,
    ReceivedDisk,
    ReceiverProgress,
    TransitDisk,
    TransitJobSpec,
)
from rehost.transit.workerlink import Link, LinkClosed, Message, RemoteCallError


def _pair(handle_a, handle_b, on_close_a=lambda: None):  # type: ignore[no-untyped-def]
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    la = Link(a, handle_a, name="a", on_close=on_close_a)
    lb = Link(b, handle_b, name="b")
    la.start()
    lb.start()
    return la, lb


def test_calls_both_ways_and_errors_come_back() -> None:
    def answer_b(method: str, body: Doc, _s: list[socket.socket]) -> Doc | None:
        if method == "boom":
            raise ValueError("bad input")
        return {"echo": body["x"], "method": method}

    a, b = _pair(lambda m, body, s: {"from": "a"}, answer_b)
    assert a.call("ping", {"x": 3}) == {"echo": 3, "method": "ping"}
    assert b.call("anything", {}) == {"from": "a"}
    with pytest.raises(RemoteCallError, match="ValueError: bad input"):
        a.call("boom", {})
    assert a.call("ping", {"x": 4})["echo"] == 4  # the link still serves
    a.close()


def test_a_socket_passes_to_the_other_end() -> None:
    got: list[socket.socket] = []
    arrived = threading.Event()

    def answer_b(method: str, body: Doc, sockets: list[socket.socket]) -> None:
        got.extend(sockets)
        arrived.set()

    a, _b = _pair(lambda m, body, s: None, answer_b)
    left, right = socket.socketpair()
    a.notify("adopt", {"address": "x"}, [right])
    right.close()  # the other end holds its own descriptor
    assert arrived.wait(5)
    got[0].sendall(b"hello")
    assert left.recv(5) == b"hello"
    got[0].close()
    left.close()


def test_a_gone_peer_fails_waiting_calls_and_runs_on_close() -> None:
    closed = threading.Event()
    release = threading.Event()

    def slow(method: str, body: Doc, _s: list[socket.socket]) -> None:
        release.wait(5)

    a, b = _pair(lambda m, body, s: None, slow, on_close_a=closed.set)
    failure: list[BaseException] = []

    def caller() -> None:
        try:
            a.call("slow", {}, timeout_s=10)
        except LinkClosed as exc:
            failure.append(exc)

    t = threading.Thread(target=caller)
    t.start()
    b.close()
    t.join(5)
    release.set()
    assert failure and closed.wait(5)
    with pytest.raises(LinkClosed):
        a.call("again", {})


def test_malformed_messages() -> None:
    for data in (b"[]", b"{}", b'{"kind": "x", "id": 1, "body": {}}', b"not json",
                 b'{"kind": "call", "id": "1", "body": {}}'):
        with pytest.raises(ValueError):
            Message.decode(data)


def test_values_survive_the_link() -> None:
    spec = TransitJobSpec("j-1", Path("/w/t-1"), (TransitDisk(0, 10, 20), TransitDisk(1, 5, 5)),
                          True)
    assert linkcodec.parse_spec(linkcodec.spec_doc(spec)) == spec
    assert linkcodec.parse_spec(linkcodec.spec_doc(None)) is None
    progress = ReceiverProgress("j-1", (ReceivedDisk(0, 3, 9),), 12.5)
    assert linkcodec.parse_progress(linkcodec.progress_doc(progress)) == progress
    digests = (DiskDigest(0, "ab" * 16), DiskDigest(1, "", pass_bytes=77))
    assert linkcodec.parse_digests(linkcodec.digests_doc("j-1", digests)) == ("j-1", digests)
    limits = DataPortLimits(hello_timeout_s=2.5, max_connections=9)
    assert linkcodec.parse_limits(linkcodec.limits_doc(limits)) == limits
