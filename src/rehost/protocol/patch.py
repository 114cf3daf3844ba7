"""DATA_PATCH frames (wire version 4): the changed blocks of a cell the transit already holds.

An incremental pass finds a cell whose digest differs from the transit's base; when the agent
knows which 4 KiB blocks of the cell changed since the transit got it, it sends a DATA_PATCH:
the DATA header (whose digest is that of the *whole new cell* and whose plan_bytes is the
cell's, so ACKs and the journal are those of a DATA frame), a piece count, (start, length)
pairs relative to the cell on the BLOCK_BYTES grid, then the payload: the pieces' bytes
concatenated, encoded with the header's codec. The transit reads the cell it holds, lays the
pieces over it, checks the result against the digest (a mismatch is NACKed and the agent
sends the whole cell) and writes only the pieces. Peers agree on version 4 in HELLO; an agent
or transit that offers less never sees this frame. Python 3.6 + stdlib (the agent imports it).
"""

import struct
from collections.abc import Sequence

from rehost import wire
from rehost.wire import DataHeader, FrameType, WireError

BLOCK_BYTES = 4096  # the patch grid: a changed 4 KiB write costs one block
PIECE = struct.Struct("!II")


def _bad(what: str, zh: str) -> WireError:
    return WireError("Wire.BadFrame", f"DATA_PATCH {what} / DATA_PATCH {zh}")


def check_pieces(pieces: "Sequence[tuple[int, int]]", raw_length_bytes: int) -> int:
    """Validate pieces (sorted, disjoint, on the block grid, inside the cell); their bytes."""
    if not pieces or len(pieces) > raw_length_bytes // BLOCK_BYTES + 1:
        raise _bad("has no pieces or too many", "的片段为空或过多")
    pos, total = 0, 0
    for start, length in pieces:
        end = start + length
        if start < pos or length <= 0 or end > raw_length_bytes:
            raise _bad("pieces overlap or leave the cell", "的片段重叠或超出数据块")
        if start % BLOCK_BYTES or (end % BLOCK_BYTES and end != raw_length_bytes):
            raise _bad(f"pieces are not on the {BLOCK_BYTES}-byte grid",
                       f"的片段未按 {BLOCK_BYTES} 字节对齐")
        pos, total = end, total + length
    if total >= raw_length_bytes:
        raise _bad("covers the whole cell (send DATA)", "覆盖了整个数据块（应发送 DATA）")
    return total


def pack_patch_header(h: DataHeader, pieces: "Sequence[tuple[int, int]]",
                      payload_bytes: int) -> bytes:
    """Frame header + DATA header + piece list of a DATA_PATCH frame."""
    check_pieces(pieces, h.raw_length_bytes)
    head = wire.pack_data_header(h, payload_bytes)[wire.FRAME_HEADER.size :]
    table = wire.PIECE_COUNT.pack(len(pieces)) + b"".join(PIECE.pack(s, n) for s, n in pieces)
    body_len = len(head) + len(table) + payload_bytes
    return wire.FRAME_HEADER.pack(wire.MAGIC, wire.PATCH_VERSION, FrameType.DATA_PATCH,
                                  body_len) + head + table


def unpack_patch(body: memoryview) -> "tuple[DataHeader, tuple[tuple[int, int], ...], memoryview]":
    """Split a DATA_PATCH body into header, validated pieces and the payload view."""
    head, rest = wire.unpack_data(body)
    if len(rest) < wire.PIECE_COUNT.size:
        raise _bad("has no piece count", "缺少片段数")
    (count,) = wire.PIECE_COUNT.unpack_from(rest)
    table_end = wire.PIECE_COUNT.size + PIECE.size * count
    if len(rest) < table_end:
        raise _bad("piece list is truncated", "的片段列表被截断")
    pieces = tuple(PIECE.unpack_from(rest, wire.PIECE_COUNT.size + PIECE.size * i)
                   for i in range(count))
    check_pieces(pieces, head.raw_length_bytes)
    return head, pieces, rest[table_end:]


def overlay(cell: memoryview, pieces: "Sequence[tuple[int, int]]",
            packed: "memoryview | bytes") -> None:
    """Lay the packed pieces over the cell's current bytes."""
    src, pos = memoryview(packed), 0
    for start, length in pieces:
        cell[start : start + length] = src[pos : pos + length]
        pos += length
