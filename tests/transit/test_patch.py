"""Block-granular deltas through a real transit: DATA_PATCH carries only the changed blocks."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from rehost import chunkdigest, wire
from rehost.agent.blockdigests import BlockDigests, block_digests
from rehost.agent.sender import send_job
from rehost.protocol.patch import BLOCK_BYTES, PIECE, pack_patch_header
from rehost.wire import Codec, DataHeader, FrameType

from .harness import MIB, same_bytes, transit_rig, whole_file_planner
from .peer import connect, error_then_close, hello, hello_doc
from .proxy import CuttingProxy

CHUNK = 1 * MIB
SIZE = 32 * MIB
FRAME_BYTES = wire.FRAME_HEADER.size + wire.DATA_HEADER.size + 4  # + 8 per piece


def _scatter(path: Path, count: int, *, seed: int) -> set[int]:
    """Overwrite count random 4 KiB blocks in place; returns the changed block numbers."""
    rng = random.Random(seed)
    blocks = set(rng.sample(range(path.stat().st_size // BLOCK_BYTES), count))
    with path.open("r+b") as f:
        for block in blocks:
            f.seek(block * BLOCK_BYTES)
            f.write(rng.randbytes(BLOCK_BYTES))
    return blocks


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src.img"
    src.write_bytes(random.Random(3).randbytes(SIZE))
    return src


@pytest.mark.parametrize("checksum", [False, True])
def test_scattered_4k_writes_send_only_their_blocks(tmp_path: Path, checksum: bool) -> None:
    src = _source(tmp_path)
    blocks = BlockDigests()
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)], checksum=checksum)
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, cycle=1)
        assert send_job(spec, planner=whole_file_planner, blocks=blocks).completed
        changed = _scatter(src, 160, seed=4)  # 2 % of the disk's blocks
        second = send_job(spec._replace(cycle=2), planner=whole_file_planner, blocks=blocks)
        assert second.completed and same_bytes(src, rig.target(job, 0))
        cells = {b * BLOCK_BYTES // CHUNK for b in changed}
        assert second.chunks_sent == len(cells)
        assert second.raw_bytes_sent == len(changed) * BLOCK_BYTES
        budget = len(changed) * (BLOCK_BYTES + 8) + len(cells) * FRAME_BYTES
        assert second.wire_bytes_sent <= budget, (second.wire_bytes_sent, budget)
        stats = rig.pool.stats(job.job_id)
        assert stats is not None and stats.received_bytes >= len(changed) * BLOCK_BYTES
        # the job log's "bytes re-sent" counts the blocks, not their cells
        assert rig.control.done[job.job_id][0].pass_bytes == len(changed) * BLOCK_BYTES
        changed = _scatter(src, 40, seed=5)  # a third cycle patches on top of the second
        third = send_job(spec._replace(cycle=3), planner=whole_file_planner, blocks=blocks)
        assert third.completed and same_bytes(src, rig.target(job, 0))
        assert third.raw_bytes_sent == len(changed) * BLOCK_BYTES


def test_wrong_block_digests_are_nacked_and_the_cell_sent_whole(tmp_path: Path) -> None:
    src = _source(tmp_path)
    blocks = BlockDigests()
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)])
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, cycle=1)
        assert send_job(spec, planner=whole_file_planner, blocks=blocks).completed
        with src.open("r+b") as f:
            for offset in (5 * CHUNK, 5 * CHUNK + 9 * BLOCK_BYTES):
                f.seek(offset)
                f.write(os.urandom(BLOCK_BYTES))
        # the agent wrongly believes block 9 of cell 5 already holds the new bytes
        entries = blocks.disk((0, str(src), SIZE), chunkdigest.available()[0])
        with src.open("rb") as f:
            f.seek(5 * CHUNK)
            fresh = block_digests(f.read(CHUNK))
        entries[5 * CHUNK].blocks[9] = fresh[9]
        second = send_job(spec._replace(cycle=2), planner=whole_file_planner, blocks=blocks)
        assert second.completed and same_bytes(src, rig.target(job, 0))
        assert second.chunks_sent == 2  # the patch (NACKed), then the whole cell
        assert second.raw_bytes_sent == BLOCK_BYTES + CHUNK


def test_transit_without_patches_gets_whole_cells(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rehost.transit.session.PATCH_VERSION", wire.DELTA_VERSION)
    src = _source(tmp_path)
    blocks = BlockDigests()
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)])
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, cycle=1)
        assert send_job(spec, planner=whole_file_planner, blocks=blocks).completed
        changed = _scatter(src, 3, seed=6)
        second = send_job(spec._replace(cycle=2), planner=whole_file_planner, blocks=blocks)
        assert second.completed and same_bytes(src, rig.target(job, 0))
        cells = {b * BLOCK_BYTES // CHUNK for b in changed}
        assert second.raw_bytes_sent == len(cells) * CHUNK


def test_agent_offering_version_3_is_answered_version_3(tmp_path: Path) -> None:
    src = _source(tmp_path)
    with transit_rig(tmp_path / "transit") as rig:
        rig.add_job("tok", [(0, src)])
        sock = connect(rig)
        with sock:
            sock.sendall(wire.pack_control(FrameType.HELLO, hello_doc(
                "tok", SIZE, wire_version=wire.DELTA_VERSION, cycle=1)))
            frame = wire.FrameReader(sock, 1 << 20).read()
            assert frame.type == FrameType.HELLO_OK
            assert wire.unpack_control(frame.body)["wire_version"] == wire.DELTA_VERSION


def test_patches_lost_with_a_connection_are_sent_again_as_patches(tmp_path: Path) -> None:
    src = _source(tmp_path)
    blocks = BlockDigests()
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)])
        proxy = CuttingProxy(rig.pool.address)
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, cycle=1)._replace(
            port=proxy.port)
        try:
            assert send_job(spec, planner=whole_file_planner, blocks=blocks).completed
            changed = _scatter(src, 320, seed=7)
            received = rig.pool.stats(job.job_id)
            assert received is not None
            mark = received.received_bytes + len(changed) * BLOCK_BYTES // 3

            def cut_midway() -> None:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    now = rig.pool.stats(job.job_id)
                    if now is not None and now.received_bytes >= mark:
                        proxy.cut()
                        return
                    time.sleep(0.01)

            cutter = threading.Thread(target=cut_midway)
            cutter.start()
            slow = spec._replace(cycle=2, bandwidth_limit_kbps=400)
            second = send_job(slow, planner=whole_file_planner, blocks=blocks)
            cutter.join()
        finally:
            proxy.close()
        assert second.completed and second.reconnects >= 1
        assert same_bytes(src, rig.target(job, 0))
        # in-flight patches went again as patches, never as whole 1 MiB cells
        assert second.raw_bytes_sent < len(changed) * BLOCK_BYTES + CHUNK, second.raw_bytes_sent


@pytest.mark.parametrize("piece", [(100, BLOCK_BYTES), (0, CHUNK)])
def test_malformed_patch_from_a_peer_is_an_error(tmp_path: Path, piece: tuple[int, int]) -> None:
    src = _source(tmp_path)
    with transit_rig(tmp_path / "transit") as rig:
        rig.add_job("tok", [(0, src)])
        sock, reader = hello(rig, "tok", SIZE)
        head = DataHeader(0, Codec.RAW, 0, CHUNK, CHUNK, bytes(16))
        frame = bytearray(pack_patch_header(head, [(0, BLOCK_BYTES)], piece[1]))
        PIECE.pack_into(frame, len(frame) - PIECE.size, *piece)  # a bad piece on the wire
        sock.sendall(bytes(frame) + bytes(piece[1]))
        assert error_then_close(reader, sock) == "Wire.BadFrame"
