"""Frame encoding round trips and bounds; PKI contexts really handshake TLS 1.3."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import ssl
import threading

import pytest

from rehost import wire
from rehost.pki import (
    agent_client_context,
    create_ca,
    issue_transit_cert,
    load_or_create_ca,
    transit_server_context,
)
from rehost.wire import ChunkRange, Codec, FrameType, WireError

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair()


def test_data_frame_round_trip_without_copy() -> None:
    a, b = _pair()
    payload = b"x" * 1000
    head = wire.DataHeader(3, Codec.ZSTD, 1 << 40, 4096, 2048, b"d" * 16)
    a.sendall(wire.pack_data_header(head, len(payload)) + payload)
    frame = wire.FrameReader(b, 1 << 20).read()
    got, body = wire.unpack_data(frame.body)
    assert frame.type == FrameType.DATA and got == head and bytes(body) == payload
    assert isinstance(body, memoryview)


def test_ack_nack_control_round_trip_and_poll() -> None:
    a, b = _pair()
    reader = wire.FrameReader(b, 1 << 20)
    assert reader.poll() is None
    ranges = [ChunkRange(0, 0, 4096), ChunkRange(1, 1 << 33, 10)]
    a.sendall(wire.pack_ranges(FrameType.ACK, ranges) + wire.pack_nack(ranges[1]))
    a.sendall(wire.pack_control(FrameType.HELLO, {"token": "t", "disks": []}))
    first = reader.poll()
    assert first is not None and wire.unpack_ranges(first.body) == ranges
    assert wire.unpack_nack(reader.read().body) == ranges[1]
    assert wire.unpack_control(reader.read().body)["token"] == "t"


def test_bounds_and_versions_are_checked() -> None:
    a, b = _pair()
    reader = wire.FrameReader(b, 1024)
    a.sendall(wire.FRAME_HEADER.pack(b"RH", 1, FrameType.DATA, 4096))
    with pytest.raises(WireError, match="too large"):
        reader.read()
    a2, b2 = _pair()
    a2.sendall(wire.FRAME_HEADER.pack(b"RH", 99, FrameType.ACK, 0))
    with pytest.raises(WireError) as err:
        wire.FrameReader(b2, 1024).read()
    assert err.value.code == "Wire.Version"
    with pytest.raises(WireError):
        wire.pack_data_header(wire.DataHeader(0, Codec.RAW, 0, wire.MAX_RAW_BYTES + 1, 0,
                                              bytes(16)), 0)


def test_zero_detection() -> None:
    import xxhash

    z = bytes(65536)
    assert wire.is_zero(z, xxhash.xxh3_128_digest(z))
    nz = b"\0" * 65535 + b"\1"
    assert not wire.is_zero(nz, xxhash.xxh3_128_digest(nz))


def test_pinned_tls13_handshake(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ca = load_or_create_ca(tmp_path / "pki", now=NOW)
    assert load_or_create_ca(tmp_path / "pki", now=NOW) == ca
    assert (tmp_path / "pki" / "ca.key").stat().st_mode & 0o777 == 0o600
    server_ctx = transit_server_context(issue_transit_cert(ca, ["127.0.0.1"], now=NOW))
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as s:
            s.sendall(s.version().encode() if s.version() else b"?")

    threading.Thread(target=serve, daemon=True).start()
    with agent_client_context(ca.cert_pem).wrap_socket(
        socket.create_connection(listener.getsockname()), server_hostname="127.0.0.1"
    ) as c:
        assert c.recv(16) == b"TLSv1.3"
    other = create_ca(now=NOW)  # a transit certified by another CA is refused
    rogue = transit_server_context(issue_transit_cert(other, ["127.0.0.1"], now=NOW))
    listener2 = socket.create_server(("127.0.0.1", 0))

    def serve_rogue() -> None:
        conn, _ = listener2.accept()
        with contextlib.suppress(ssl.SSLError, OSError):
            rogue.wrap_socket(conn, server_side=True)

    threading.Thread(target=serve_rogue, daemon=True).start()
    with pytest.raises(ssl.SSLCertVerificationError):
        agent_client_context(ca.cert_pem).wrap_socket(
            socket.create_connection(listener2.getsockname()), server_hostname="127.0.0.1")


def test_pieces_frame_round_trip_and_scatter() -> None:
    a, b = _pair()
    cell = bytearray(os.urandom(64 * 1024))
    pieces = ((0, 4096), (8192, 12288), (60000, 5536))
    packed = wire.gather_pieces(memoryview(cell), pieces)
    assert len(packed) == 4096 + 12288 + 5536
    head = wire.DataHeader(1, Codec.RAW, 1 << 30, len(cell), len(packed), b"d" * 16)
    a.sendall(wire.pack_pieces_header(head, pieces, len(packed)) + packed)
    frame = wire.FrameReader(b, 1 << 20).read()
    got, got_pieces, payload = wire.unpack_pieces(frame.body)
    assert frame.type == FrameType.DATA_PIECES and got == head and got_pieces == pieces
    out = memoryview(bytearray(os.urandom(len(cell))))  # stale bytes must become zeros
    wire.scatter_pieces(out, got_pieces, payload)
    expected = bytearray(len(cell))
    for start, length in pieces:
        expected[start : start + length] = cell[start : start + length]
    assert out == expected


@pytest.mark.parametrize("pieces", [((0, 10), (5, 10)), ((0, 10), (60, 11)), ((4090, 20),),
                                    ((10, 0),)])
def test_bad_piece_lists_are_refused(pieces: tuple[tuple[int, int], ...]) -> None:
    head = wire.DataHeader(0, Codec.RAW, 0, 4096, 20, bytes(16))
    with pytest.raises(WireError):
        wire.pack_pieces_header(head, pieces, 20)
    good = wire.pack_pieces_header(head._replace(plan_bytes=10), ((0, 10),), 10)
    body = bytearray(good[wire.FRAME_HEADER.size :]) + bytes(10)
    body[wire.DATA_HEADER.size + 4 : wire.DATA_HEADER.size + 12] = b"\0\0\x10\0\0\0\0\x0a"
    with pytest.raises(WireError, match=r"leave the chunk"):
        wire.unpack_pieces(memoryview(body))


def test_read_start_then_rest_into_caller_buffer() -> None:
    a, b = _pair()
    payload = os.urandom(100_000)
    head = wire.DataHeader(1, Codec.RAW, 8192, len(payload), len(payload), b"d" * 16)
    a.sendall(wire.pack_data_header(head, len(payload)) + payload
              + wire.pack_ranges(FrameType.ACK, [ChunkRange(0, 0, 1)]))
    reader = wire.FrameReader(b, 1 << 20)
    kind, length = reader.read_start(wire.DATA_HEADER.size)
    assert (kind, length) == (FrameType.DATA, wire.DATA_HEADER.size + len(payload))
    got, rest = wire.unpack_data(reader.prefix())
    assert got == head and len(rest) == 0
    dest = memoryview(bytearray(len(payload)))
    reader.read_rest_into(dest)
    assert bytes(dest) == payload
    # the next frame is intact: nothing of it was consumed by the direct receive
    kind, length = reader.read_start(wire.DATA_HEADER.size)
    assert kind == FrameType.ACK and length == wire.RANGE.size
    frame = reader.read()  # a short frame is read whole by read_start; read() completes it
    assert wire.unpack_ranges(frame.body) == [ChunkRange(0, 0, 1)]


def test_read_rest_into_refuses_a_destination_of_the_wrong_size() -> None:
    a, b = _pair()
    head = wire.DataHeader(0, Codec.RAW, 0, 4096, 4096, b"d" * 16)
    a.sendall(wire.pack_data_header(head, 4096) + bytes(4096))
    reader = wire.FrameReader(b, 1 << 20)
    reader.read_start(wire.DATA_HEADER.size)
    with pytest.raises(WireError, match="BadFrame"):
        reader.read_rest_into(memoryview(bytearray(4095)))
    c, d = _pair()
    c.sendall(wire.pack_data_header(head, 4096) + bytes(1000))
    c.close()  # the connection ends in the middle of the payload
    reader = wire.FrameReader(d, 1 << 20)
    reader.read_start(wire.DATA_HEADER.size)
    with pytest.raises(WireError, match="Closed"):
        reader.read_rest_into(memoryview(bytearray(4096)))
