"""Incremental passes: only cells whose xxh3-128 changed travel; freed cells become zeros."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rehost import wire
from rehost.agent.sender import send_job
from rehost.diskfmt import Extent
from rehost.transit.journal import ChunkRecord, ProgressJournal

from .harness import MIB, make_sparse_disk, same_bytes, transit_rig, whole_file_planner
from .test_resume import _wait_progress

CHUNK = 1 * MIB


def test_journal_folds_a_pass_into_the_base(tmp_path: Path) -> None:
    path = tmp_path / "journal.bin"
    journal = ProgressJournal(path)
    digest = bytes(range(16))
    journal.append_chunks([ChunkRecord(0, 0, CHUNK, CHUNK, digest),
                           ChunkRecord(0, CHUNK, CHUNK, 10, wire.zero_digest(CHUNK))])
    journal.mark_disk_done(0, b"")
    journal.start_pass(2)
    journal.append_chunks([ChunkRecord(0, 2 * CHUNK, CHUNK, CHUNK, digest)])
    journal.close()
    again = ProgressJournal(path)
    state = again.disk(0)
    assert again.cycle == 2 and state.done_digest is None
    assert state.base == {0: (CHUNK, digest)}  # the zero cell is not part of the base
    assert state.chunks == {2 * CHUNK: (CHUNK, CHUNK)} and state.done_bytes == CHUNK
    again.start_pass(3)
    assert again.disk(0).base == {0: (CHUNK, digest), 2 * CHUNK: (CHUNK, digest)}
    again.close()


def test_base_round_trips_compactly() -> None:
    digests = {0: b"a" * 16, 7 * CHUNK: b"b" * 16}
    text = wire.pack_base(digests, CHUNK)
    assert wire.unpack_base(text, CHUNK) == digests
    assert len(text) <= 4 * (2 * wire.BASE_CELL.size) // 3 + 4
    with pytest.raises(wire.WireError):
        wire.unpack_base("!!", CHUNK)


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)


def _freed(plan_cell: int) -> Callable[[str], list[Extent]]:
    """A whole-file plan with one cell free (its stale bytes must read back as zeros)."""
    def plan(path: str) -> list[Extent]:
        size = os.path.getsize(path)
        cut = plan_cell * CHUNK
        return [Extent(0, cut), Extent(cut + CHUNK, size - cut - CHUNK)]
    return plan


def test_second_cycle_sends_only_changed_cells(tmp_path: Path) -> None:
    src = make_sparse_disk(tmp_path / "src.img", size_mib=48)
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)])
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, cycle=1)
        first = send_job(spec, planner=whole_file_planner)
        assert first.completed and same_bytes(src, rig.target(job, 0))
        rig.control.finished.clear()
        _overwrite(src, 5 * MIB + 100, os.urandom(3000))  # cell 5: a changed block
        _overwrite(src, 9 * MIB + 4096, bytes(64 * 1024))  # cell 9: some text zeroed
        _overwrite(src, 30 * MIB, os.urandom(2 * MIB))  # cells 30, 31: holes filled
        second = send_job(spec._replace(cycle=2), planner=_freed(0))  # cell 0 freed
        assert second.completed and rig.control.finished.is_set()
        expected = bytearray(src.read_bytes())
        expected[0:CHUNK] = bytes(CHUNK)
        assert rig.target(job, 0).read_bytes() == bytes(expected)
        assert second.chunks_sent == 5  # cells 5, 9, 30, 31 and the freed cell 0
        assert second.zero_chunks == 1
        assert second.wire_bytes_sent < 4 * CHUNK + 4096  # 4 changed cells + 1 ZERO frame
        assert second.wire_bytes_sent < first.wire_bytes_sent // 3
        again = send_job(spec._replace(cycle=2), planner=_freed(0))  # the same cycle: done
        assert again.completed and again.chunks_sent == 0


def test_agent_without_cycle_keeps_todays_protocol(tmp_path: Path) -> None:
    src = make_sparse_disk(tmp_path / "src.img", size_mib=16)
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)])
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK)
        first = send_job(spec, planner=whole_file_planner)
        assert first.completed and same_bytes(src, rig.target(job, 0))
        _overwrite(src, 0, os.urandom(100))
        second = send_job(spec, planner=whole_file_planner)  # no cycle: all disks done
        assert second.completed and second.chunks_sent == 0


def test_killed_delta_pass_resends_at_most_one_window(tmp_path: Path) -> None:
    window = 8 * MIB
    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(48 * MIB))
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)])
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, window_bytes=window, cycle=1)
        assert send_job(spec).completed
        src.write_bytes(os.urandom(48 * MIB))  # every cell changed: a long delta pass
        slow = spec._replace(cycle=2, bandwidth_limit_kbps=16 * 1024)
        spec_file = tmp_path / "spec.pickle"
        spec_file.write_bytes(pickle.dumps(slow))
        rig.control.progress.clear()  # wait for progress of the delta pass, not of pass 1
        child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("sender_proc.py")),
                                  str(spec_file)])
        try:
            _wait_progress(rig, job.job_id, 0.4)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        result = send_job(slow._replace(bandwidth_limit_kbps=0))
        assert result.completed and result.resumed_bytes >= 0.4 * 48 * MIB
        assert result.raw_bytes_sent <= 48 * MIB - result.resumed_bytes + window
        assert same_bytes(src, rig.target(job, 0))
