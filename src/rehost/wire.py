"""Agent <-> transit frame format (versions 1 and 2) over a TLS byte stream.

Every frame is an 8-byte header ``!2sBBI`` (magic ``RH``, protocol version, frame type, body
length) followed by the body. DATA, ACK and NACK bodies are packed with ``struct`` because
they are on the hot path; the rare control frames (HELLO, HELLO_OK, DISK_DONE, DISK_OK, ERROR)
carry a small JSON body. A DATA body is a fixed 40-byte header followed by the payload.

Version 2 adds DATA_PIECES for a grid cell only partly in the send plan: the DATA header, a
piece count, (start, length) pairs relative to the cell, then the payload, which encodes only
the pieces' bytes concatenated (plan_bytes of them). The digest still covers the whole cell
with the gaps as zeros, so ACKs, the journal and disk digests are the same as for DATA.
Peers agree on the version in HELLO (``wire_version``); only DATA_PIECES frames carry 2.

Version 3 is negotiated in HELLO only (no frame carries it): an incremental job's agent sends
its ``cycle``; when the cycle is newer than the transit's last pass, the transit starts a new
pass and HELLO_OK gives, per disk, ``base``: the digests of the target's non-zero cells before
this pass (`pack_base`). The agent then sends only cells whose digest differs, and ZERO frames
for cells that are no longer planned, which the transit punches out of the target.

Optional HELLO fields (absent = the legacy choice): ``digests``, the chunk digests the agent
computes, preferred first (`chunkdigest`: ``xxh3-128``, ``blake2b-128``), and ``codecs``, the
payload compressions it can send (``zstd``, ``zlib``). HELLO_OK answers ``digest``, the one
digest every DATA digest, read-back, base and whole-disk digest of the job then uses, and
``codecs``, those of the offered codecs the transit decodes. A peer naming none means
``xxh3-128`` and ``zstd``.

Version 4 adds DATA_PATCH (`rehost.protocol.patch`): only the changed 4 KiB blocks of a cell.
"""

import base64
import binascii
import enum
import json
import mmap
import socket
import ssl
import struct
from collections.abc import Sequence
from typing import NamedTuple

from rehost import chunkdigest

PROTOCOL_VERSION = 1  # what every frame but DATA_PIECES carries in its header
PIECES_VERSION = 2  # DATA_PIECES frames
DELTA_VERSION = 3  # HELLO only: incremental passes (cycle in HELLO, base digests in HELLO_OK)
PATCH_VERSION = 4  # DATA_PATCH frames: changed blocks of a cell the target holds
MAGIC = b"RH"
FRAME_HEADER = struct.Struct("!2sBBI")
DATA_HEADER = struct.Struct("!HBxQII16s4x")
RANGE = struct.Struct("!HQI")
BASE_CELL = struct.Struct("!I16s")  # grid cell number, xxh3-128 of the cell
NACK_BODY = struct.Struct("!HQIB3x")
PIECE_COUNT = struct.Struct("!I")
MAX_RAW_BYTES = 16 * 1024 * 1024
MAX_PAYLOAD_BYTES = MAX_RAW_BYTES + 64 * 1024
MAX_CONTROL_BYTES = 16 * 1024 * 1024


class FrameType(enum.IntEnum):
    """Kinds of frames."""

    HELLO = 1
    HELLO_OK = 2
    DATA = 3
    ACK = 4
    NACK = 5
    DISK_DONE = 6
    DISK_OK = 7
    ERROR = 8
    DATA_PIECES = 9  # version 2: a partly planned cell, only its planned pieces
    DATA_PATCH = 10  # version 4: the changed blocks of a cell (rehost.protocol.patch)


class Codec(enum.IntEnum):
    """How a DATA payload encodes the raw chunk bytes."""

    RAW = 0
    ZSTD = 1
    ZERO = 2  # the raw chunk is all zeros; no payload
    ZLIB = 3  # zlib stream (stdlib): sent only when HELLO_OK lists "zlib" in "codecs"


class WireError(Exception):
    """The peer sent something that is not a valid frame, or the stream ended."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class DataHeader(NamedTuple):
    """Fixed part of a DATA frame; plan_bytes is how much of the send plan the chunk covers."""

    disk_index: int
    codec: "Codec"
    offset_bytes: int
    raw_length_bytes: int
    plan_bytes: int
    digest: bytes


class ChunkRange(NamedTuple):
    """A chunk identified by disk and byte range (used by ACK and NACK)."""

    disk_index: int
    offset_bytes: int
    length_bytes: int


class Frame(NamedTuple):
    """A received frame: its type and body (a view into the reader's buffer for DATA)."""

    type: "FrameType"
    body: memoryview


def pack_data_header(h: "DataHeader", payload_bytes: int) -> bytes:
    """Frame header + DATA header for a payload of payload_bytes."""
    if h.raw_length_bytes > MAX_RAW_BYTES or payload_bytes > MAX_PAYLOAD_BYTES:
        raise WireError("Wire.FrameTooLarge", "chunk larger than the protocol allows")
    body_len = DATA_HEADER.size + payload_bytes
    return FRAME_HEADER.pack(MAGIC, PROTOCOL_VERSION, FrameType.DATA, body_len) + DATA_HEADER.pack(
        h.disk_index, h.codec, h.offset_bytes, h.raw_length_bytes, h.plan_bytes, h.digest
    )


def unpack_data(body: memoryview) -> "tuple[DataHeader, memoryview]":
    """Split a DATA body into its header and a zero-copy payload view."""
    if len(body) < DATA_HEADER.size:
        raise WireError("Wire.BadFrame", "DATA frame too short")
    disk, codec, offset, raw_len, plan, digest = DATA_HEADER.unpack_from(body)
    if raw_len > MAX_RAW_BYTES:
        raise WireError("Wire.FrameTooLarge", "chunk larger than the protocol allows")
    try:
        codec_v = Codec(codec)
    except ValueError as exc:
        raise WireError("Wire.BadFrame", f"unknown codec {codec}") from exc
    return DataHeader(disk, codec_v, offset, raw_len, plan, digest), body[DATA_HEADER.size :]


def pack_pieces_header(h: "DataHeader", pieces: "Sequence[tuple[int, int]]",
                       payload_bytes: int) -> bytes:
    """Frame header + DATA header + piece list of a DATA_PIECES frame (version 2)."""
    _check_pieces(pieces, h.raw_length_bytes, h.plan_bytes)
    head = pack_data_header(h, payload_bytes)[FRAME_HEADER.size :]
    table = PIECE_COUNT.pack(len(pieces)) + struct.pack(
        f"!{2 * len(pieces)}I", *(n for piece in pieces for n in piece))
    body_len = len(head) + len(table) + payload_bytes
    return FRAME_HEADER.pack(MAGIC, PIECES_VERSION, FrameType.DATA_PIECES, body_len) + head + table


def unpack_pieces(body: memoryview) -> "tuple[DataHeader, tuple[tuple[int, int], ...], memoryview]":
    """Split a DATA_PIECES body into header, validated piece list and payload view."""
    head, rest = unpack_data(body)
    if len(rest) < PIECE_COUNT.size:
        raise WireError("Wire.BadFrame", "DATA_PIECES frame has no piece count")
    (count,) = PIECE_COUNT.unpack_from(rest)
    table_end = PIECE_COUNT.size + 8 * count
    if count == 0 or len(rest) < table_end:
        raise WireError("Wire.BadFrame", "DATA_PIECES piece list is truncated")
    flat = struct.unpack_from(f"!{2 * count}I", rest, PIECE_COUNT.size)
    pieces = tuple(zip(flat[::2], flat[1::2]))
    _check_pieces(pieces, head.raw_length_bytes, head.plan_bytes)
    return head, pieces, rest[table_end:]


def _check_pieces(pieces: "Sequence[tuple[int, int]]", raw_len: int, plan: int) -> None:
    pos, total = 0, 0
    for start, length in pieces:
        if start < pos or length <= 0 or start + length > raw_len:
            raise WireError("Wire.BadFrame", "DATA_PIECES pieces overlap or leave the chunk")
        pos, total = start + length, total + length
    if total != plan:
        raise WireError("Wire.BadFrame", "DATA_PIECES pieces do not add up to plan_bytes")


def gather_pieces(cell: memoryview, pieces: "Sequence[tuple[int, int]]") -> bytes:
    """The pieces' bytes of a cell, concatenated (one copy)."""
    return b"".join([cell[start : start + length] for start, length in pieces])


def scatter_pieces(cell: memoryview, pieces: "Sequence[tuple[int, int]]",
                   packed: "memoryview | bytes") -> None:
    """Rebuild a whole cell from its packed pieces; the gaps become zeros."""
    pos, src = 0, memoryview(packed)
    for start, length in pieces:
        if start > pos:
            cell[pos:start] = zero_bytes(start - pos)
        cell[start : start + length] = src[:length]
        src, pos = src[length:], start + length
    if pos < len(cell):
        cell[pos:] = zero_bytes(len(cell) - pos)


def pack_control(ftype: "FrameType", doc: "dict[str, object]") -> bytes:
    """A control frame with a JSON body."""
    body = json.dumps(doc, separators=(",", ":")).encode()
    return FRAME_HEADER.pack(MAGIC, PROTOCOL_VERSION, ftype, len(body)) + body


def unpack_control(body: memoryview) -> "dict[str, object]":
    """Parse the JSON body of a control frame."""
    try:
        doc = json.loads(bytes(body))
    except ValueError as exc:
        raise WireError("Wire.BadFrame", "control frame is not JSON") from exc
    if not isinstance(doc, dict):
        raise WireError("Wire.BadFrame", "control frame is not an object")
    return doc


def pack_ranges(ftype: "FrameType", ranges: "Sequence[ChunkRange]") -> bytes:
    """An ACK frame listing durably written chunks."""
    body = b"".join(RANGE.pack(r.disk_index, r.offset_bytes, r.length_bytes) for r in ranges)
    return FRAME_HEADER.pack(MAGIC, PROTOCOL_VERSION, ftype, len(body)) + body


def unpack_ranges(body: memoryview) -> "list[ChunkRange]":
    """Parse an ACK body."""
    if len(body) % RANGE.size:
        raise WireError("Wire.BadFrame", "ACK body has a partial range")
    return [ChunkRange(*t) for t in RANGE.iter_unpack(body)]


def pack_nack(r: "ChunkRange", reason: int = 1) -> bytes:
    """A NACK frame: the chunk arrived damaged and must be sent again."""
    body = NACK_BODY.pack(r.disk_index, r.offset_bytes, r.length_bytes, reason)
    return FRAME_HEADER.pack(MAGIC, PROTOCOL_VERSION, FrameType.NACK, len(body)) + body


def unpack_nack(body: memoryview) -> "ChunkRange":
    """Parse a NACK body."""
    if len(body) != NACK_BODY.size:
        raise WireError("Wire.BadFrame", "NACK body has the wrong size")
    disk, offset, length, _reason = NACK_BODY.unpack(body)
    return ChunkRange(disk, offset, length)


def pack_error(code: str, message: str) -> bytes:
    """An ERROR frame; the sender closes the connection after it."""
    return pack_control(FrameType.ERROR, {"code": code, "message": message})


class FrameReader:
    """Reads frames from a (TLS) socket into one reused buffer; supports non-blocking polls."""

    def __init__(self, sock: "socket.socket | ssl.SSLSocket", max_body_bytes: int) -> None:
        self._sock = sock
        # anonymous mmap: pages are zero-filled on first touch, so a 16 MiB bound costs
        # nothing until a frame that large arrives (a bytearray would be zeroed up front)
        self._buf = mmap.mmap(-1, FRAME_HEADER.size + max_body_bytes)
        self._view = memoryview(self._buf)
        self._have = 0
        self._max_body = max_body_bytes

    def limit(self, max_body_bytes: int) -> None:
        """Accept frame bodies up to max_body_bytes from now on (at most the buffer's size)."""
        if max_body_bytes > len(self._buf) - FRAME_HEADER.size:
            raise ValueError("the limit is larger than the reader's buffer")
        self._max_body = max_body_bytes

    def read(self) -> "Frame":
        """Wait for one whole frame (socket timeout applies; partial data is kept for a retry)."""
        self._fill(FRAME_HEADER.size, block=True)
        total = FRAME_HEADER.size + self._body_length()
        self._fill(total, block=True)
        return self._take(total)

    def read_start(self, prefix_bytes: int) -> "tuple[FrameType, int]":
        """Wait for a frame header and up to prefix_bytes of its body; returns type, body length.

        Then either read() returns the whole frame, or read_rest_into() receives the rest of
        the body straight into a caller buffer (no copy through this reader's buffer).
        """
        self._fill(FRAME_HEADER.size, block=True)
        length = self._body_length()
        try:
            kind = FrameType(self._buf[3])
        except ValueError as exc:
            raise WireError("Wire.BadFrame", f"unknown frame type {self._buf[3]}") from exc
        self._fill(FRAME_HEADER.size + min(prefix_bytes, length), block=True)
        return kind, length

    def prefix(self) -> memoryview:
        """The body bytes read so far by read_start."""
        return self._view[FRAME_HEADER.size : self._have]

    def read_rest_into(self, dest: memoryview) -> None:
        """Receive exactly the rest of the current frame's body into dest."""
        total = FRAME_HEADER.size + self._body_length()
        if self._have + len(dest) != total:
            raise WireError("Wire.BadFrame", "frame body does not fit the destination")
        pos = 0
        self._have = 0  # the frame is consumed whether or not the rest arrives
        while pos < len(dest):
            n = self._sock.recv_into(dest[pos:])
            if n == 0:
                raise WireError("Wire.Closed", "connection closed by peer")
            pos += n

    def buffered(self) -> bool:
        """Whether part of the next frame has already been read."""
        return self._have > 0

    def poll(self) -> "Frame | None":
        """Return a frame if one is complete without blocking, else None."""
        if not self._fill(FRAME_HEADER.size, block=False):
            return None
        total = FRAME_HEADER.size + self._body_length()
        if not self._fill(total, block=False):
            return None
        return self._take(total)

    def _body_length(self) -> int:
        magic, version, _ftype, length = FRAME_HEADER.unpack_from(self._buf)
        if magic != MAGIC:
            raise WireError("Wire.BadFrame", "bad frame magic")
        if not PROTOCOL_VERSION <= version <= PATCH_VERSION:
            raise WireError("Wire.Version", f"unsupported protocol version {version}")
        if length > self._max_body:
            raise WireError("Wire.FrameTooLarge", f"frame body of {length} bytes is too large")
        return int(length)

    def _take(self, total: int) -> "Frame":
        ftype = self._buf[3]
        self._have = 0
        try:
            kind = FrameType(ftype)
        except ValueError as exc:
            raise WireError("Wire.BadFrame", f"unknown frame type {ftype}") from exc
        return Frame(kind, self._view[FRAME_HEADER.size : total])

    def _fill(self, want: int, *, block: bool) -> bool:
        """Read until want bytes are buffered (never past the current frame)."""
        timeout_s = self._sock.gettimeout()
        if not block:
            self._sock.settimeout(0.0)
        try:
            while self._have < want:
                try:
                    n = self._sock.recv_into(self._view[self._have : want])
                except (ssl.SSLWantReadError, BlockingIOError):
                    return False
                if n == 0:
                    raise WireError("Wire.Closed", "connection closed by peer")
                self._have += n
            return True
        finally:
            if not block:
                self._sock.settimeout(timeout_s)


_ZEROS = chunkdigest.ZEROS


def zero_bytes(length: int) -> memoryview:
    """A read-only view of length zero bytes (shared, no allocation)."""
    return memoryview(_ZEROS)[:length]


_OFFSET = struct.Struct("!Q")


def zero_digest(length: int, digest_name: str = chunkdigest.LEGACY) -> bytes:
    """The digest of length zero bytes (cached): lets a chunk digest double as a zero check."""
    return chunkdigest.by_name(digest_name).zero(length)


def disk_digest_record(offset_bytes: int, chunk_digest: bytes) -> bytes:
    """What a non-zero chunk contributes to the whole-disk digest (both ends feed xxh3-128)."""
    return _OFFSET.pack(offset_bytes) + chunk_digest


def is_zero(raw: "memoryview | bytes", digest: bytes,
            digest_name: str = chunkdigest.LEGACY) -> bool:
    """Whether a chunk is all zeros, given its digest (confirmed byte for byte)."""
    return chunkdigest.by_name(digest_name).is_zero(raw, digest)


def pack_base(digests: "dict[int, bytes]", chunk_bytes: int) -> str:
    """Base64 of (cell number, digest) records, sorted: a compact per-disk digest map."""
    return base64.b64encode(b"".join(
        BASE_CELL.pack(offset // chunk_bytes, digests[offset]) for offset in sorted(digests)
    )).decode()


def unpack_base(text: str, chunk_bytes: int) -> "dict[int, bytes]":
    """Offset -> digest from `pack_base` text."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WireError("Wire.BadFrame", "HELLO_OK base is not base64") from exc
    if len(raw) % BASE_CELL.size:
        raise WireError("Wire.BadFrame", "HELLO_OK base has a partial record")
    return {cell * chunk_bytes: digest for cell, digest in BASE_CELL.iter_unpack(raw)}
