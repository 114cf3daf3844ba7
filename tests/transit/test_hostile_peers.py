"""Before HELLO the data port holds little and not for long; bad frames end with ERROR + close."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import xxhash

from rehost import wire
from rehost.transit.limits import DataPortLimits
from rehost.wire import Codec, FrameType

from .harness import MIB, transit_rig
from .peer import POOL_THREADS, closed, connect, error_then_close, hello, hello_doc, settled

SIZE = 2 * MIB


def _disk(tmp_path: Path) -> Path:
    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(SIZE))
    return src


def test_big_frame_before_hello_is_refused_at_once(tmp_path: Path) -> None:
    with transit_rig(tmp_path / "t") as rig:
        sock = connect(rig, timeout_s=5)
        # 1 MiB is far over the pre-auth limit: refused on the header, nothing buffered
        sock.sendall(wire.FRAME_HEADER.pack(wire.MAGIC, 1, FrameType.HELLO, MIB))
        assert error_then_close(wire.FrameReader(sock, 1 << 16), sock) == "Wire.FrameTooLarge"


@pytest.mark.parametrize("tls", [True, False])
def test_silent_peer_is_dropped_at_the_hello_deadline(tmp_path: Path, tls: bool) -> None:
    limits = DataPortLimits(hello_timeout_s=0.5)
    with transit_rig(tmp_path / "t", limits=limits) as rig:
        sock: socket.socket = (connect(rig, timeout_s=5) if tls
                               else socket.create_connection(rig.pool.address, timeout=5))
        started = time.monotonic()
        assert closed(sock)
        assert time.monotonic() - started < 3.0


def test_trickled_hello_is_dropped_at_the_deadline(tmp_path: Path) -> None:
    """A byte now and then must not keep the connection past the deadline (slowloris)."""
    with transit_rig(tmp_path / "t", limits=DataPortLimits(hello_timeout_s=1.0)) as rig:
        sock = connect(rig, timeout_s=5)
        frame = wire.pack_control(FrameType.HELLO, hello_doc("tok", SIZE))
        started = time.monotonic()
        with pytest.raises(OSError):
            for byte in frame:
                sock.sendall(bytes([byte]))
                time.sleep(0.2)
                if time.monotonic() - started > 5:
                    break
        assert time.monotonic() - started < 4.0


def test_connections_over_the_caps_are_closed_at_once(tmp_path: Path) -> None:
    threads_before = threading.active_count()
    limits = DataPortLimits(max_connections=8, max_connections_per_address=5)
    with transit_rig(tmp_path / "t", limits=limits) as rig:
        held = [socket.create_connection(rig.pool.address, timeout=2) for _ in range(40)]
        time.sleep(0.5)
        assert rig.pool.open_connections() == 5  # all from 127.0.0.1
        for s in held:
            s.settimeout(0.2)
        refused = [s for s in held if closed(s)]
        assert len(refused) == 35
        assert threading.active_count() <= threads_before + POOL_THREADS + 5
        for s in held:
            s.close()
        assert settled(rig, threads_before + POOL_THREADS)


BAD_DISK_DONE: list[dict[str, Any]] = [
    {}, {"index": "0"}, {"index": -1}, {"index": True}, {"index": 0, "digest": "zz" * 16},
    {"index": 0, "digest": 5}, {"index": 0, "digest": "ab"}, {"index": 7},
]


@pytest.mark.parametrize("doc", BAD_DISK_DONE)
def test_malformed_disk_done_gets_error_and_cleanup(tmp_path: Path, doc: dict[str, Any]) -> None:
    src = _disk(tmp_path)
    threads_before = threading.active_count()
    with transit_rig(tmp_path / "t") as rig:
        rig.add_job("tok", [(0, src)])
        sock, reader = hello(rig, "tok", SIZE)
        sock.sendall(wire.pack_control(FrameType.DISK_DONE, doc))
        assert error_then_close(reader, sock) in ("Wire.BadFrame", "Transit.Incomplete")
        assert settled(rig, threads_before + POOL_THREADS)


BAD_HELLO: list[dict[str, Any]] = [
    hello_doc("tok", SIZE, chunk_bytes=0), hello_doc("tok", SIZE, chunk_bytes="1"),
    hello_doc("tok", SIZE, disks=[{"index": 0}]), hello_doc("tok", SIZE, disks={"0": 1}),
    hello_doc("tok", SIZE, disks=[5]), hello_doc("tok", SIZE, cycle="x"),
    hello_doc("tok", SIZE, wire_version=None, cycle=-3), {"token": 5},
]


@pytest.mark.parametrize("doc", BAD_HELLO)
def test_malformed_hello_gets_error(tmp_path: Path, doc: dict[str, Any]) -> None:
    src = _disk(tmp_path)
    threads_before = threading.active_count()
    with transit_rig(tmp_path / "t") as rig:
        rig.add_job("tok", [(0, src)])
        sock = connect(rig, timeout_s=5)
        sock.sendall(wire.pack_control(FrameType.HELLO, doc))
        assert error_then_close(wire.FrameReader(sock, 1 << 16), sock) == "Wire.BadFrame"
        assert settled(rig, threads_before + POOL_THREADS)


def _chunk(codec: Codec, offset: int, length: int, payload: bytes, *, plan: int = -1) -> bytes:
    digest = xxhash.xxh3_128_digest(payload if codec != Codec.ZERO else bytes(length))
    head = wire.DataHeader(0, codec, offset, length, length if plan < 0 else plan, digest)
    return wire.pack_data_header(head, len(payload)) + payload


@pytest.mark.parametrize("frame", [
    _chunk(Codec.ZERO, SIZE, MIB, b""), _chunk(Codec.ZERO, SIZE - 4096, MIB, b""),
    _chunk(Codec.RAW, SIZE, 4096, bytes(4096)), _chunk(Codec.RAW, 2**63, 4096, b"\1" * 4096),
    _chunk(Codec.RAW, 0, 4096, b"\1" * 4096, plan=8192), _chunk(Codec.ZERO, 0, 0, b""),
], ids=["zero-after-end", "zero-across-end", "raw-after-end", "raw-far", "plan-over", "empty"])
def test_chunks_outside_the_disk_are_refused(tmp_path: Path, frame: bytes) -> None:
    src = _disk(tmp_path)
    with transit_rig(tmp_path / "t") as rig:
        rig.add_job("tok", [(0, src)])
        sock, reader = hello(rig, "tok", SIZE)
        sock.sendall(frame)
        assert error_then_close(reader, sock) == "Transit.BadChunk"
        assert rig.control.failures[-1][1] == "Transit.BadChunk"


def test_a_job_still_finishes_after_hostile_peers(tmp_path: Path) -> None:
    from rehost.agent.sender import send_job

    from .harness import same_bytes

    src = _disk(tmp_path)
    with transit_rig(tmp_path / "t", limits=DataPortLimits(hello_timeout_s=0.5)) as rig:
        job = rig.add_job("tok", [(0, src)])
        idle = [socket.create_connection(rig.pool.address, timeout=2) for _ in range(10)]
        sock, reader = hello(rig, "tok", SIZE)
        sock.sendall(wire.pack_control(FrameType.DISK_DONE, {"index": "x"}))
        error_then_close(reader, sock)
        send_job(rig.send_spec("tok", [(0, src)], chunk_bytes=MIB))
        assert rig.control.finished.wait(10)
        assert same_bytes(src, rig.target(job, 0))
        for s in idle:
            s.close()


def test_limits_come_from_the_environment() -> None:
    from rehost.config import SettingsError, load_settings

    env = {"REHOST_DATA_HELLO_TIMEOUT_S": "2.5", "REHOST_DATA_MAX_CONNECTIONS": "9",
           "REHOST_DATA_MAX_CONNECTIONS_PER_IP": "3"}
    settings = load_settings(data_dir="/tmp/x", env=env)
    assert settings.data_port_limits == DataPortLimits(hello_timeout_s=2.5, max_connections=9,
                                                       max_connections_per_address=3)
    for bad in ("0", "-1", "many", "nan"):
        with pytest.raises(SettingsError, match=r"REHOST_DATA_MAX_CONNECTIONS=.*positive"):
            load_settings(data_dir="/tmp/x", env={"REHOST_DATA_MAX_CONNECTIONS": bad})
