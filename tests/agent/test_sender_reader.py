"""The agent's disk reader: cells the page cache holds are copied from memory, others O_DIRECT."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from rehost.agent.reader import Cell, CellReader, aligned_buffer, cached_pages
from rehost.agent.sendstate import SendState

MIB = 1024 * 1024


def _disk(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "disk.img"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path, data


def _drop_cache(path: Path, offset: int, length: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def test_cached_and_uncached_parts_read_back_exactly(tmp_path: Path) -> None:
    size = 3 * MIB + 12_345  # the last cell is not a multiple of the O_DIRECT alignment
    path, data = _disk(tmp_path, size)
    reader = CellReader(path)
    mapping, buf = aligned_buffer(MIB)
    try:
        assert reader.direct and reader.cached_fd >= 0  # /tmp file systems take O_DIRECT
        full = Cell(0, 0, MIB, ((0, MIB),))
        assert reader._read_cached(buf, 0) == MIB  # just written: all in the page cache
        _drop_cache(path, 0, size)
        os.pread(reader.cached_fd, 4096, 2 * MIB - 4096)  # only cell 1's tail is cached again
        assert 0 < (cached_pages(reader.fd, MIB, MIB) or 0) < MIB // 4096
        assert reader._read_cached(buf, MIB) == 0  # partly cached: the device, O_DIRECT
        for start in range(0, size, MIB):
            length = min(MIB, size - start)
            cell = Cell(0, start, length, ((0, length),))
            assert bytes(reader.read_cell(cell, buf)) == data[start : start + length]
        _drop_cache(path, 0, size)
        assert bytes(reader.read_cell(full, buf)) == data[:MIB]  # nothing cached: O_DIRECT
        assert cached_pages(reader.fd, 0, MIB) == 0  # and reading it did not fill the cache
        gappy = Cell(0, MIB, MIB, ((4096, 8192), (65536, 4096)))
        want = bytearray(MIB)
        want[4096:12288] = data[MIB + 4096 : MIB + 12288]
        want[65536:69632] = data[MIB + 65536 : MIB + 69632]
        assert bytes(reader.read_cell(gappy, buf)) == bytes(want)  # gaps read as zeros
    finally:
        reader.close()
        buf.release()
        mapping.close()


def test_idle_connection_threads_wake_when_the_last_chunk_is_acked() -> None:
    state = SendState(totals={0: 1}, resumed={}, queue_chunks=3, progress=None,
                      stop=threading.Event())
    woke: list[float] = []

    def idle() -> None:
        state.next_item(30.0)
        woke.append(time.monotonic())

    waiters = [threading.Thread(target=idle) for _ in range(2)]
    for t in waiters:
        t.start()
    time.sleep(0.05)
    finished_at = time.monotonic()
    state.reader_finished()  # nothing was produced: the send is finished
    for t in waiters:
        t.join(timeout=5)
    assert state.finished() and len(woke) == 2
    assert max(woke) - finished_at < 1.0  # woken, not timed out after 30 s


def _rchar() -> int:
    line = next(x for x in Path("/proc/self/io").read_text().splitlines() if x.startswith("rchar"))
    return int(line.split()[1])


def test_read_runs_read_through_short_gaps_only() -> None:
    from rehost.agent.reader import READ_GAP_BYTES, read_runs

    short, far = READ_GAP_BYTES - 4096, READ_GAP_BYTES
    pieces = [(0, 4096), (4096 + short, 4096), (8192 + short + far, 8192)]
    assert read_runs(pieces) == [(0, 8192 + short), (8192 + short + far, 8192)]
    assert read_runs([]) == []


def test_a_partial_cell_reads_only_its_planned_runs_under_o_direct(tmp_path: Path) -> None:
    size = 4 * MIB + 8192  # the last cell is not a whole chunk
    path, data = _disk(tmp_path, size)
    _drop_cache(path, 0, size)
    reader = CellReader(path)
    mapping, buf = aligned_buffer(4 * MIB)
    try:
        assert reader.direct
        pieces = ((0, 4096), (MIB, 64 << 10), (3 * MIB, 4096))  # stale data between them
        cell = Cell(0, 0, 4 * MIB, pieces)
        before = _rchar()
        got = bytes(reader.read_cell(cell, buf))
        read = _rchar() - before
        planned = sum(length for _start, length in pieces)
        assert planned <= read < planned + 4096  # not the 4 MiB cell (+ /proc/self/io itself)
        want = bytearray(4 * MIB)
        for start, length in pieces:
            want[start : start + length] = data[start : start + length]
        assert got == bytes(want)
        tail = Cell(0, 4 * MIB, 8192, ((4096, 4096),))  # the disk's last, short cell
        assert bytes(reader.read_cell(tail, buf))[4096:] == data[4 * MIB + 4096 :]
        assert reader.direct  # nothing fell back to buffered reads
    finally:
        reader.close()
        buf.release()
        mapping.close()
