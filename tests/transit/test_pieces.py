"""Partly planned cells travel as their planned pieces only (DATA_PIECES, wire version 2)."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest

from rehost.agent.sender import send_job
from rehost.diskfmt import Extent
from rehost.wire import DATA_HEADER, FRAME_HEADER, PIECE_COUNT

from .harness import MIB, transit_rig
from .proxy import CuttingProxy
from .test_resume import _wait_progress

CHUNK = 1 * MIB
BLOCK = 4096


def _fragmented_plan(size: int, *, seed: int) -> list[Extent]:
    """Like the bitmaps of an aged ext4: runs of 1..64 used blocks between free runs.

    Cells 4..6 are fully planned, so DATA and DATA_PIECES frames mix in one transfer.
    """
    rng = random.Random(seed)
    out, pos = [], 0
    while pos < size:
        if 4 * CHUNK <= pos < 7 * CHUNK:
            pos = 7 * CHUNK
            continue
        used = min(rng.randint(1, 64) * BLOCK, size - pos, max(BLOCK, 4 * CHUNK - pos)
                   if pos < 4 * CHUNK else size)
        out.append(Extent(pos, used))
        pos += used + rng.choice((1, 2, 8, 40, 300)) * BLOCK
    out.append(Extent(4 * CHUNK, 3 * CHUNK))
    return sorted(out, key=lambda e: e.offset_bytes)


def _expected(src: Path, plan: list[Extent]) -> bytes:
    """The source with every byte outside the plan read back as zero."""
    data = src.read_bytes()
    out = bytearray(len(data))
    for e in plan:
        out[e.offset_bytes : e.offset_bytes + e.length_bytes] = \
            data[e.offset_bytes : e.offset_bytes + e.length_bytes]
    return bytes(out)


@pytest.mark.parametrize("checksum", [False, True])
def test_free_blocks_cost_no_wire_bytes(tmp_path: Path, checksum: bool) -> None:
    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(24 * MIB))  # stale random data everywhere, also in the gaps
    plan = _fragmented_plan(24 * MIB, seed=3)
    plan_bytes = sum(e.length_bytes for e in plan)
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)], checksum=checksum)
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK)
        result = send_job(spec, planner=lambda _p: plan)
        assert rig.control.finished.is_set()
        assert rig.target(job, 0).read_bytes() == _expected(src, plan)
    assert result.completed and plan_bytes < 0.6 * 24 * MIB
    framing = result.chunks_sent * (FRAME_HEADER.size + DATA_HEADER.size + PIECE_COUNT.size)
    tables = 8 * len(plan) + 8 * 24  # one pair per piece; a plan range may span two cells
    assert plan_bytes <= result.wire_bytes_sent <= plan_bytes + framing + tables
    if checksum:
        assert rig.control.done[job.job_id][0].digest_hex == result.disk_digests[0]


def test_dropped_connection_with_pieces_resends_at_most_one_window(tmp_path: Path) -> None:
    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(48 * MIB))
    plan = _fragmented_plan(48 * MIB, seed=5)
    window = 8 * MIB
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)], checksum=True)
        proxy = CuttingProxy(rig.pool.address)
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, window_bytes=window,
                             bandwidth_limit_kbps=12 * 1024)._replace(port=proxy.port)
        cutter = threading.Thread(target=lambda: (_wait_progress(rig, job.job_id, 0.5),
                                                  proxy.cut()))
        cutter.start()
        try:
            result = send_job(spec, planner=lambda _p: plan)
        finally:
            cutter.join()
            proxy.close()
        stats = rig.pool.stats(job.job_id)
        assert result.completed and result.reconnects >= 1
        assert stats is not None and stats.duplicate_bytes <= window
        assert rig.target(job, 0).read_bytes() == _expected(src, plan)
        assert rig.control.done[job.job_id][0].digest_hex == result.disk_digests[0]
