"""Property: any bad frame sequence against a real receiver on loopback ends in ERROR + close.

The receiver (a real ReceiverPool, TLS on 127.0.0.1, real files) gets well-formed but possibly
damaged DATA frames, then one bad frame drawn from every kind the codecs must refuse. It must
answer only ACK/NACK/DISK_OK until one ERROR with an SMC-style code, close the connection,
and leave no connection or thread behind; afterwards a real send still finishes byte-exact.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from pathlib import Path
from typing import Any

import xxhash
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fuzz.hostile import CODE, values
from rehost import wire
from rehost.agent.sender import send_job
from rehost.transit.frames import parse_disk_done
from rehost.wire import Codec, FrameType, WireError
from transit.harness import MIB, Rig, same_bytes, transit_rig
from transit.peer import connect, error_then_close, hello, settled

SIZE = 2 * MIB
WIRE_FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow])
U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)


def _frame(ftype: int, body: bytes, *, magic: bytes = wire.MAGIC, version: int = 1) -> bytes:
    return wire.FRAME_HEADER.pack(magic, version, ftype, len(body)) + body


def _data(disk: int, codec: int, offset: int, raw_len: int, plan: int, payload: bytes,
          digest: bytes = bytes(16), pieces: list[tuple[int, int]] | None = None) -> bytes:
    head = wire.DATA_HEADER.pack(disk, codec, offset, raw_len, plan, digest)
    if pieces is None:
        return _frame(FrameType.DATA, head + payload)
    table = struct.pack(f"!I{2 * len(pieces)}I", len(pieces), *(n for p in pieces for n in p))
    return _frame(FrameType.DATA_PIECES, head + table + payload, version=2)


@st.composite
def good_data(draw: st.DrawFn) -> bytes:
    """An in-range DATA frame, its digest right or wrong (ACK or NACK, never ERROR)."""
    cell = draw(st.integers(0, SIZE // 4096 - 1))
    length = 4096 * draw(st.integers(1, SIZE // 4096 - cell))
    payload = draw(st.binary(min_size=1, max_size=64)) * (length // 64 + 1)
    payload = payload[:length]
    digest = xxhash.xxh3_128_digest(payload) if draw(st.booleans()) else bytes(16)
    return _data(0, Codec.RAW, cell * 4096, length, length, payload, digest)


def _valid_disk_done(doc: Any) -> bool:
    try:
        parse_disk_done(doc)
    except WireError:
        return False
    return True


@st.composite
def bad_disk_done(draw: st.DrawFn) -> bytes:
    doc = draw(st.one_of(
        st.dictionaries(st.sampled_from(["index", "digest", "x"]), values(), max_size=3),
        st.fixed_dictionaries({"index": st.just(0), "digest": st.text(max_size=40)})))
    assume(not _valid_disk_done(doc))
    return _frame(FrameType.DISK_DONE, json.dumps(doc).encode())


@st.composite
def bad_data_header(draw: st.DrawFn) -> bytes:
    disk, codec = draw(st.integers(0, 2**16 - 1)), draw(st.integers(0, 255))
    offset, raw_len, plan = draw(U64), draw(U32), draw(U32)
    in_range = (disk == 0 and codec <= 2 and 0 < raw_len <= wire.MAX_RAW_BYTES
                and plan <= raw_len and offset + raw_len <= SIZE)
    assume(not in_range)
    return _data(disk, codec, offset, raw_len, plan, draw(st.binary(max_size=64)))


@st.composite
def bad_pieces(draw: st.DrawFn) -> bytes:
    raw_len = 4096 * draw(st.integers(1, 4))
    pieces = draw(st.lists(st.tuples(U32, U32), max_size=4))
    assume(not pieces or any(s + n > raw_len or n == 0 for s, n in pieces))
    return _data(0, Codec.RAW, 0, raw_len, draw(U32), draw(st.binary(max_size=64)),
                 pieces=pieces)


def bad_frames() -> st.SearchStrategy[bytes]:
    """One frame the receiver must refuse after a valid HELLO."""
    unexpected = st.sampled_from([FrameType.HELLO, FrameType.HELLO_OK, FrameType.ACK,
                                  FrameType.NACK, FrameType.DISK_OK, FrameType.ERROR])
    return st.one_of(
        st.builds(_frame, unexpected, st.binary(max_size=64)),
        st.builds(_frame, st.integers(10, 255) | st.just(0), st.binary(max_size=64)),
        st.builds(lambda m, b: _frame(1, b, magic=m), st.binary(min_size=2, max_size=2)
                  .filter(lambda m: m != wire.MAGIC), st.binary(max_size=16)),
        st.builds(lambda v, b: _frame(FrameType.DATA, b, version=v),
                  st.integers(3, 255) | st.just(0), st.binary(max_size=16)),
        st.builds(lambda n: wire.FRAME_HEADER.pack(wire.MAGIC, 1, FrameType.DATA, n),
                  st.integers(wire.DATA_HEADER.size + wire.MAX_PAYLOAD_BYTES + 1, 2**32 - 1)),
        st.builds(lambda b: _frame(FrameType.DATA, b),
                  st.binary(max_size=wire.DATA_HEADER.size - 1)),
        bad_disk_done(), bad_data_header(), bad_pieces(),
    )


def _rig_disk(tmp_path: Path) -> Path:
    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(SIZE))
    return src


def _finishes(rig: Rig, src: Path, job: Any) -> None:
    rig.control.finished.clear()
    send_job(rig.send_spec("tok", [(0, src)], chunk_bytes=MIB))
    assert rig.control.finished.wait(20)
    assert same_bytes(src, rig.target(job, 0))


def test_bad_frames_after_hello_end_with_error_and_close(tmp_path: Path) -> None:
    src = _rig_disk(tmp_path)
    with transit_rig(tmp_path / "t") as rig:
        job = rig.add_job("tok", [(0, src)])
        threads_before = threading.active_count()

        @WIRE_FUZZ
        @given(prefix=st.lists(good_data(), max_size=3), bad=bad_frames())
        def run(prefix: list[bytes], bad: bytes) -> None:
            sock, reader = hello(rig, "tok", SIZE)
            sock.sendall(b"".join(prefix) + bad)
            assert CODE.match(error_then_close(reader, sock))
            sock.close()
            assert settled(rig, threads_before), "a connection or thread was left behind"

        run()
        _finishes(rig, src, job)


def test_anything_but_a_valid_hello_ends_with_error_and_close(tmp_path: Path) -> None:
    src = _rig_disk(tmp_path)
    with transit_rig(tmp_path / "t") as rig:
        job = rig.add_job("tok", [(0, src)])
        threads_before = threading.active_count()
        hello_docs = st.dictionaries(st.sampled_from(["token", "chunk_bytes", "disks", "cycle",
                                                      "wire_version"]), values(), max_size=5)

        @WIRE_FUZZ
        @given(first=st.one_of(
            bad_frames(),
            st.builds(lambda d: _frame(FrameType.HELLO, json.dumps(d).encode()), hello_docs),
            st.builds(lambda n: wire.FRAME_HEADER.pack(wire.MAGIC, 1, FrameType.HELLO, n),
                      st.integers(64 * 1024 + 1, 2**32 - 1))))
        def run(first: bytes) -> None:
            sock = connect(rig, timeout_s=10)
            sock.sendall(first)
            assert CODE.match(error_then_close(wire.FrameReader(sock, 1 << 16), sock))
            sock.close()
            assert settled(rig, threads_before)

        run()
        _finishes(rig, src, job)


def test_truncated_frames_close_cleanly(tmp_path: Path) -> None:
    """A peer that leaves mid-frame: no ERROR is owed, but nothing may be left behind."""
    src = _rig_disk(tmp_path)
    with transit_rig(tmp_path / "t") as rig:
        rig.add_job("tok", [(0, src)])
        threads_before = threading.active_count()

        @WIRE_FUZZ
        @given(frame=good_data(), cut=st.integers(1, 200))
        def run(frame: bytes, cut: int) -> None:
            sock, _reader = hello(rig, "tok", SIZE)
            sock.sendall(frame[: max(1, len(frame) - cut)])
            sock.close()
            assert settled(rig, threads_before)

        run()
