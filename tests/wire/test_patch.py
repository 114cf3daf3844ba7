"""DATA_PATCH frames (wire version 4): pack and unpack both ends, and what is refused."""

from __future__ import annotations

import os
import socket

import pytest

from rehost import wire
from rehost.protocol.patch import (
    BLOCK_BYTES,
    check_pieces,
    overlay,
    pack_patch_header,
    unpack_patch,
)
from rehost.wire import Codec, DataHeader, FrameType, WireError

CELL = 4 * 1024 * 1024


def _head(raw_len: int = CELL) -> DataHeader:
    return DataHeader(1, Codec.RAW, 8 * CELL, raw_len, raw_len - 4096, b"d" * 16)


def test_patch_frame_round_trips_through_a_frame_reader() -> None:
    pieces = ((0, BLOCK_BYTES), (5 * BLOCK_BYTES, 3 * BLOCK_BYTES))
    payload = os.urandom(4 * BLOCK_BYTES)
    frame = pack_patch_header(_head(), pieces, len(payload)) + payload
    assert frame[2] == wire.PATCH_VERSION and frame[3] == FrameType.DATA_PATCH
    a, b = socket.socketpair()
    with a, b:
        a.sendall(frame)
        got = wire.FrameReader(b, 1 << 20).read()
    assert got.type == FrameType.DATA_PATCH
    head, back, body = unpack_patch(got.body)
    assert head == _head() and back == pieces and bytes(body) == payload


def test_last_piece_may_end_at_an_odd_cell_end() -> None:
    raw_len = 3 * BLOCK_BYTES + 1536  # the disk's last, short cell
    assert check_pieces([(3 * BLOCK_BYTES, 1536)], raw_len) == 1536


@pytest.mark.parametrize("pieces", [
    [],  # nothing to patch
    [(100, BLOCK_BYTES)],  # start off the grid
    [(0, BLOCK_BYTES + 1)],  # end off the grid, not at the cell end
    [(0, 2 * BLOCK_BYTES), (BLOCK_BYTES, BLOCK_BYTES)],  # overlap
    [(2 * BLOCK_BYTES, BLOCK_BYTES), (0, BLOCK_BYTES)],  # unsorted
    [(CELL - BLOCK_BYTES, 2 * BLOCK_BYTES)],  # leaves the cell
    [(0, CELL)],  # the whole cell: that is a DATA frame
    [(0, 0)],  # empty piece
])
def test_bad_piece_lists_are_refused_with_a_bilingual_message(
    pieces: list[tuple[int, int]],
) -> None:
    with pytest.raises(WireError) as err:
        check_pieces(pieces, CELL)
    assert err.value.code == "Wire.BadFrame" and "DATA_PATCH" in err.value.message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.value.message)


def test_truncated_piece_table_is_refused() -> None:
    frame = pack_patch_header(_head(), [(0, BLOCK_BYTES)], BLOCK_BYTES)
    body = memoryview(frame[wire.FRAME_HEADER.size :])
    with pytest.raises(WireError, match="truncated"):
        unpack_patch(body[: wire.DATA_HEADER.size + wire.PIECE_COUNT.size + 4])
    with pytest.raises(WireError, match="piece count"):
        unpack_patch(body[: wire.DATA_HEADER.size + 2])


def test_overlay_changes_only_the_pieces() -> None:
    cell = bytearray(os.urandom(8 * BLOCK_BYTES))
    before = bytes(cell)
    new = os.urandom(2 * BLOCK_BYTES)
    overlay(memoryview(cell), [(BLOCK_BYTES, BLOCK_BYTES), (6 * BLOCK_BYTES, BLOCK_BYTES)], new)
    assert cell[:BLOCK_BYTES] == before[:BLOCK_BYTES]
    assert cell[BLOCK_BYTES : 2 * BLOCK_BYTES] == new[:BLOCK_BYTES]
    assert cell[2 * BLOCK_BYTES : 6 * BLOCK_BYTES] == before[2 * BLOCK_BYTES : 6 * BLOCK_BYTES]
    assert cell[6 * BLOCK_BYTES : 7 * BLOCK_BYTES] == new[BLOCK_BYTES:]
    assert cell[7 * BLOCK_BYTES :] == before[7 * BLOCK_BYTES :]


def test_reader_still_refuses_versions_beyond_patch() -> None:
    frame = bytearray(pack_patch_header(_head(), [(0, BLOCK_BYTES)], 0))
    frame[2] = wire.PATCH_VERSION + 1
    a, b = socket.socketpair()
    with a, b:
        a.sendall(bytes(frame))
        with pytest.raises(WireError) as err:
            wire.FrameReader(b, 1 << 20).read()
    assert err.value.code == "Wire.Version"
