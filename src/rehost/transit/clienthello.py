"""The ALPN names a TLS ClientHello offers, read from the bytes before any handshake.

The data port's router reads them with MSG_PEEK to hand a connection to the receiver process
that holds its job, before that process does the handshake (RFC 8446 4.1.2, RFC 7301 3.1).
"""

from __future__ import annotations

import struct

RECORD_HEADER_BYTES = 5
MAX_HELLO_BYTES = 64 * 1024  # a ClientHello larger than this is refused, not buffered
_HANDSHAKE, _CLIENT_HELLO, _ALPN = 22, 1, 16


class NotClientHello(ValueError):
    """The bytes cannot start a TLS connection's ClientHello."""


def offered_alpn(data: bytes) -> tuple[str, ...] | None:
    """The ALPN names offered (empty when none), or None when more bytes are needed."""
    message = _handshake_message(data)
    if message is None:
        return None
    if message[0] != _CLIENT_HELLO:
        raise NotClientHello("the first handshake message is not a ClientHello")
    return _alpn_names(_extensions(memoryview(message)[4:]))


def _handshake_message(data: bytes) -> bytes | None:
    """The first handshake message, joined from as many records as it spans."""
    fragments, pos, need = bytearray(), 0, -1
    while need < 0 or len(fragments) < need:
        if len(data) < pos + RECORD_HEADER_BYTES:
            return None
        kind, _version, length = struct.unpack_from("!BHH", data, pos)
        if kind != _HANDSHAKE or length == 0:
            raise NotClientHello(f"TLS record type {kind}, not a handshake")
        if len(data) < pos + RECORD_HEADER_BYTES + length:
            return None
        fragments += data[pos + RECORD_HEADER_BYTES: pos + RECORD_HEADER_BYTES + length]
        pos += RECORD_HEADER_BYTES + length
        if need < 0 and len(fragments) >= 4:
            need = 4 + int.from_bytes(fragments[1:4], "big")
            if need > MAX_HELLO_BYTES:
                raise NotClientHello(f"a ClientHello of {need} bytes")
    return bytes(fragments[:need])


def _extensions(body: memoryview) -> memoryview:
    """The extensions block of a ClientHello body (empty when it has none)."""
    pos = 2 + 32  # legacy_version, random
    for width in (1, 2, 1):  # session id, cipher suites, compression methods
        pos += width + _int(body, pos, width)
    if pos == len(body):
        return body[pos:pos]
    end = pos + 2 + _int(body, pos, 2)
    if end > len(body):
        raise NotClientHello("the extensions run past the ClientHello")
    return body[pos + 2:end]


def _alpn_names(extensions: memoryview) -> tuple[str, ...]:
    pos = 0
    while pos < len(extensions):
        kind, length = _int(extensions, pos, 2), _int(extensions, pos + 2, 2)
        data = extensions[pos + 4: pos + 4 + length]
        if len(data) != length:
            raise NotClientHello("an extension runs past the ClientHello")
        if kind == _ALPN:
            return _name_list(data[2: 2 + _int(data, 0, 2)])
        pos += 4 + length
    return ()


def _name_list(data: memoryview) -> tuple[str, ...]:
    names, pos = [], 0
    while pos < len(data):
        length = data[pos]
        name = bytes(data[pos + 1: pos + 1 + length])
        if len(name) != length or not length:
            raise NotClientHello("a malformed ALPN name list")
        names.append(name.decode("ascii", "replace"))
        pos += 1 + length
    return tuple(names)


def _int(data: memoryview, pos: int, width: int) -> int:
    if pos + width > len(data):
        raise NotClientHello("the ClientHello ends inside a field")
    return int.from_bytes(data[pos: pos + width], "big")
