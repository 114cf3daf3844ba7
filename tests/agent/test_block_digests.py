"""The agent's per-block digests: what a changed cell sends, and when it falls back to whole."""

from __future__ import annotations

import os

import pytest

from rehost import chunkdigest
from rehost.agent.blockdigests import (
    BlockDigests,
    block_digests,
    changed_runs,
    zero_digests,
)
from rehost.agent.delta import DeltaBase, PatchPlanner
from rehost.agent.reader import Cell
from rehost.protocol.patch import BLOCK_BYTES

CELL = 1024 * 1024
ALGO = chunkdigest.by_name(chunkdigest.BLAKE2B_128)


def _cell(offset: int = 0, length: int = CELL) -> Cell:
    return Cell(0, offset, length, ())


def _write(data: bytearray, offset: int, length: int = BLOCK_BYTES) -> None:
    data[offset : offset + length] = os.urandom(length)


def _planner(entries: dict, base: dict[int, bytes]) -> PatchPlanner:
    return PatchPlanner(entries, DeltaBase(0, 8 * CELL, CELL, base, ALGO), patches=True)


def test_block_digests_cover_a_short_last_block() -> None:
    data = os.urandom(3 * BLOCK_BYTES + 100)
    digests = block_digests(data)
    assert len(digests) == 4 and digests.itemsize == 4
    assert zero_digests(2 * BLOCK_BYTES) == block_digests(bytes(2 * BLOCK_BYTES))


def test_changed_runs_merge_adjacent_blocks_and_stop_at_the_cell_end() -> None:
    length = 6 * BLOCK_BYTES - 512
    old = block_digests(bytes(length))
    new = block_digests(b"\0" * BLOCK_BYTES + b"x" * 2 * BLOCK_BYTES + b"\0" * BLOCK_BYTES
                        + b"\0" * (BLOCK_BYTES - 1) + b"y" + b"z" * (BLOCK_BYTES - 512))
    assert changed_runs(old, new, length) == [(BLOCK_BYTES, 2 * BLOCK_BYTES),
                                              (4 * BLOCK_BYTES, 2 * BLOCK_BYTES - 512)]


def test_a_changed_cell_sends_only_its_changed_blocks() -> None:
    data = bytearray(os.urandom(CELL))
    entries: dict = {}
    first = _planner(entries, {})
    digest = ALGO.digest(data)
    assert first.plan(_cell(), data, digest, zero=False, changed=False) is None
    _write(data, 3 * BLOCK_BYTES, 100)
    _write(data, 40 * BLOCK_BYTES + 10, 5000)  # a write across two blocks
    second = _planner(entries, {0: digest})
    runs = second.plan(_cell(), data, ALGO.digest(data), zero=False, changed=True)
    assert runs == ((3 * BLOCK_BYTES, BLOCK_BYTES), (40 * BLOCK_BYTES, 2 * BLOCK_BYTES))
    assert entries[0].digest == ALGO.digest(data)  # kept for the next cycle


def test_cell_the_target_does_not_hold_patches_its_non_zero_blocks() -> None:
    data = bytearray(CELL)
    _write(data, 7 * BLOCK_BYTES)
    runs = _planner({}, {}).plan(_cell(), data, ALGO.digest(data), zero=False, changed=True)
    assert runs == ((7 * BLOCK_BYTES, BLOCK_BYTES),)


def test_stale_entry_falls_back_to_the_whole_cell() -> None:
    data = bytearray(os.urandom(CELL))
    entries: dict = {}
    _planner(entries, {}).plan(_cell(), data, ALGO.digest(data), zero=False, changed=False)
    _write(data, 0)
    # the transit holds something else than what the agent remembers (a failed pass)
    stale = _planner(entries, {0: b"x" * 16})
    assert stale.plan(_cell(), data, ALGO.digest(data), zero=False, changed=True) is None


def test_no_differing_block_or_all_blocks_changed_send_the_whole_cell() -> None:
    data = bytearray(os.urandom(CELL))
    entries: dict = {}
    digest = ALGO.digest(data)
    _planner(entries, {}).plan(_cell(), data, digest, zero=False, changed=False)
    # the digest differs but no block does (a 32-bit collision): never an empty patch
    assert _planner(entries, {0: digest}).plan(_cell(), data, b"n" * 16, zero=False,
                                               changed=True) is None
    entries[0] = entries[0]._replace(digest=digest)
    fresh = bytearray(os.urandom(CELL))
    assert _planner(entries, {0: digest}).plan(_cell(), fresh, ALGO.digest(fresh), zero=False,
                                               changed=True) is None


def test_one_off_transit_without_patches_gets_whole_cells_but_entries_are_kept() -> None:
    data = bytearray(os.urandom(CELL))
    entries: dict = {}
    planner = PatchPlanner(entries, None, patches=True)  # cycle 1: no base yet
    assert planner.plan(_cell(), data, ALGO.digest(data), zero=False, changed=True) is None
    assert 0 in entries
    planner.plan(_cell(), bytes(CELL), ALGO.zero(CELL), zero=True, changed=True)
    assert 0 not in entries  # a zero cell needs no entry: the target holds zeros


def test_store_keeps_one_jobs_disks_and_one_digest() -> None:
    store = BlockDigests()
    disk = store.disk((0, "/dev/sda", 8 * CELL), ALGO.name)
    disk[0] = None
    assert store.disk((0, "/dev/sda", 8 * CELL), ALGO.name) is disk
    store.keep_only([(1, "/dev/sdb", CELL)])
    assert store.disk((0, "/dev/sda", 8 * CELL), ALGO.name) == {}
    store.disk((1, "/dev/sdb", CELL), ALGO.name)[0] = None
    assert store.disk((1, "/dev/sdb", CELL), "xxh3-128") == {}


def test_entries_stop_at_the_per_disk_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rehost.agent.delta.MAX_CELLS", 1)
    entries: dict = {}
    planner = _planner(entries, {})
    for offset in (0, CELL):
        data = os.urandom(CELL)
        planner.plan(_cell(offset), data, ALGO.digest(data), zero=False, changed=False)
    assert list(entries) == [0]  # the second cell will be sent whole when it changes
    data = os.urandom(CELL)
    planner.plan(_cell(0), data, ALGO.digest(data), zero=False, changed=False)
    assert entries[0].digest == ALGO.digest(data)  # a kept cell is still updated
