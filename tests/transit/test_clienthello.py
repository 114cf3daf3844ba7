"""ALPN names read from real ClientHellos (made by this host's OpenSSL), whole and in pieces."""

from __future__ import annotations

import ssl
import struct

import pytest

from rehost.agent.tls import offer_route, set_tls12_floor
from rehost.protocol.dataroute import ROUTE_PREFIX, offered_route, route_alpn, route_key
from rehost.transit.clienthello import MAX_HELLO_BYTES, NotClientHello, offered_alpn


def client_hello(alpn: list[str] | None = None, *, tls12_only: bool = False) -> bytes:
    """The bytes a TLS client sends first."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    set_tls12_floor(ctx)
    if tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        ctx.set_alpn_protocols(alpn)
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(), server_hostname="transit.test")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def refragment(data: bytes, size: int) -> bytes:
    """The same handshake message split over TLS records of `size` bytes."""
    _kind, version, length = struct.unpack_from("!BHH", data)
    message = data[5:5 + length]
    pieces = [message[i:i + size] for i in range(0, len(message), size)]
    return b"".join(struct.pack("!BHH", 22, version, len(p)) + p for p in pieces)


@pytest.mark.parametrize("tls12_only", [False, True])
def test_names_offered_are_read(tls12_only: bool) -> None:
    names = ["rehost-route.0123456789abcdef01234567", "h2"]
    assert offered_alpn(client_hello(names, tls12_only=tls12_only)) == tuple(names)
    assert offered_alpn(client_hello(None, tls12_only=tls12_only)) == ()


def test_a_hello_over_several_records_and_partial_bytes() -> None:
    data = refragment(client_hello(["rehost-route.x"]), 100)
    assert offered_alpn(data) == ("rehost-route.x",)
    for cut in (0, 3, 5, 104, 105, len(data) - 1):
        assert offered_alpn(data[:cut]) is None, cut


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x00",
    b"\x17\x03\x03\x00\x10" + b"x" * 16,
    struct.pack("!BHH", 22, 0x0301, 8) + b"\x02\x00\x00\x04abcd",  # a ServerHello
    struct.pack("!BHH", 22, 0x0301, 4) + b"\x01" + (MAX_HELLO_BYTES + 1).to_bytes(3, "big"),
    struct.pack("!BHH", 22, 0x0301, 10) + b"\x01\x00\x00\x06" + b"\x03\x03\x00\x00\x00\x00",
], ids=["http", "empty-record", "app-data", "server-hello", "huge", "cut-inside"])
def test_what_is_not_a_client_hello_is_refused(data: bytes) -> None:
    with pytest.raises(NotClientHello):
        offered_alpn(data)


def test_a_bad_alpn_list_is_refused() -> None:
    good = client_hello(["abc"])
    broken = good.replace(b"\x03abc", b"\x09abc")  # a name longer than the list holds
    with pytest.raises(NotClientHello):
        offered_alpn(broken)


def test_the_agent_offers_its_route_and_the_router_reads_it() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    offer_route(ctx, "secret-token")
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(), server_hostname="t")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    data = out.read()
    assert b"secret-token" not in data
    names = offered_alpn(data)
    assert names == (route_alpn("secret-token"),)
    assert offered_route(names) == route_key("secret-token")


def test_route_keys() -> None:
    assert route_key("a") == route_key("a") != route_key("b")
    assert len(route_key("a")) == 24 and "a" not in route_key("a").replace("a", "")  # hex only
    assert offered_route(["h2", route_alpn("t")]) == route_key("t")
    for bad in ([], ["h2"], [ROUTE_PREFIX], [ROUTE_PREFIX + "G" * 24], [ROUTE_PREFIX + "a" * 23]):
        assert offered_route(bad) is None
