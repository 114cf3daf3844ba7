"""Damaged frames, a full transit disk, a torn journal tail."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import xxhash

from rehost import wire
from rehost.agent.sender import send_job
from rehost.agent.sendspec import SendError
from rehost.pki import agent_client_context
from rehost.transit.journal import RECORD, ChunkRecord, ProgressJournal
from rehost.wire import Codec, FrameType

from .harness import MIB, Rig, same_bytes, transit_rig


def _client(rig: Rig, token: str, size: int) -> tuple[socket.socket, wire.FrameReader]:
    ctx = agent_client_context(rig.ca.cert_pem)
    sock = ctx.wrap_socket(socket.create_connection(rig.pool.address, timeout=10),
                           server_hostname="127.0.0.1")
    hello = {"token": token, "agent_id": "s", "chunk_bytes": MIB,
             "disks": [{"index": 0, "size_bytes": size, "plan_bytes": MIB}]}
    sock.sendall(wire.pack_control(FrameType.HELLO, hello))
    reader = wire.FrameReader(sock, 1 << 20)
    assert reader.read().type == FrameType.HELLO_OK
    return sock, reader


def _data(raw: bytes, digest: bytes) -> bytes:
    head = wire.DataHeader(0, Codec.RAW, 0, len(raw), len(raw), digest)
    return wire.pack_data_header(head, len(raw)) + raw


def test_damaged_frame_is_nacked_then_accepted(tmp_path: Path) -> None:
    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(2 * MIB))
    raw = src.read_bytes()[:MIB]
    with transit_rig(tmp_path / "t") as rig:
        job = rig.add_job("tok", [(0, src)])
        sock, reader = _client(rig, "tok", 2 * MIB)
        damaged = bytearray(raw)
        damaged[1234] ^= 0xFF
        sock.sendall(_data(bytes(damaged), xxhash.xxh3_128_digest(raw)))
        nack = reader.read()
        assert nack.type == FrameType.NACK
        assert wire.unpack_nack(nack.body) == wire.ChunkRange(0, 0, MIB)
        sock.sendall(_data(raw, xxhash.xxh3_128_digest(raw)))
        ack = reader.read()
        assert ack.type == FrameType.ACK
        assert wire.unpack_ranges(ack.body) == [wire.ChunkRange(0, 0, MIB)]
        sock.close()
        with rig.target(job, 0).open("rb") as f:
            assert f.read(MIB) == raw


def test_oversized_frame_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src.img"
    src.write_bytes(bytes(MIB))
    with transit_rig(tmp_path / "t") as rig:
        rig.add_job("tok", [(0, src)])
        sock, reader = _client(rig, "tok", MIB)
        sock.sendall(wire.FRAME_HEADER.pack(wire.MAGIC, 1, FrameType.DATA, 1 << 30))
        err = reader.read()
        assert err.type == FrameType.ERROR
        assert wire.unpack_control(err.body)["code"] == "Wire.FrameTooLarge"


@contextmanager
def _tmpfs(path: Path, size_mib: int) -> Iterator[Path]:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            raise AssertionError("the disk-full test needs root to mount a tmpfs")
        pytest.skip("needs root to mount a tmpfs")
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_disk_full_fails_clearly_and_restart_finishes(tmp_path: Path) -> None:
    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(24 * MIB))
    with _tmpfs(tmp_path / "small", 8) as small, transit_rig(small) as rig:
        job = rig.add_job("tok", [(0, src)])
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=MIB, window_bytes=4 * MIB)
        with pytest.raises(SendError) as err:
            send_job(spec)
        assert err.value.code == "Transit.DiskFull"
        assert "中转" in err.value.message
        assert rig.control.failures and rig.control.failures[0][1] == "Transit.DiskFull"
        subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True)
        result = send_job(spec)
        assert result.completed and result.resumed_bytes > 0
        assert same_bytes(src, rig.target(job, 0))


def test_torn_journal_tail_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "journal.bin"
    j = ProgressJournal(path)
    j.append_chunks([ChunkRecord(0, 0, MIB, MIB, bytes(16)),
                     ChunkRecord(0, MIB, MIB, 10, b"x" * 16)])
    j.close()
    with path.open("ab") as f:
        f.write(b"\x01" * (RECORD.size - 3))  # a record cut short by a crash
    j2 = ProgressJournal(path)
    assert j2.disk(0).acked_ranges() == [(0, 2 * MIB)]
    assert j2.disk(0).done_bytes == MIB + 10
    assert path.stat().st_size == 2 * RECORD.size
    j2.close()
