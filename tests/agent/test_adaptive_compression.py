"""The compression level follows the bottleneck: the link (up) or the compressor (down)."""

from __future__ import annotations

import pytest

from rehost.agent.adaptive import (
    LADDER,
    STARVED_SHARE,
    WINDOW_CELLS,
    WINDOW_MAX_S,
    WINDOW_MIN_CELLS,
    WINDOW_MIN_S,
    LevelTuner,
    ladder_for,
)

CELL = 4 << 20


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def window(tuner: LevelTuner, clock: Clock, *, compress_s: float, write_s: float,
           cpu_s: float | None = None) -> None:
    """One decision window of cells with the given per-cell costs (the window ends on its cell
    count: the clock moves less than WINDOW_MAX_S over it; the slow-link case is tested below)."""
    for _ in range(WINDOW_CELLS):
        clock.now += (WINDOW_MIN_S + WINDOW_MAX_S) / 2 / WINDOW_CELLS
        tuner.record(in_bytes=CELL, compress_s=compress_s, write_s=write_s,
                     compress_cpu_s=cpu_s)


def test_a_limited_link_raises_the_level_to_the_top_of_the_ladder() -> None:
    clock = Clock()
    tuner = LevelTuner(1, clock=clock)
    for _ in range(len(LADDER)):
        # 4 MiB at 10 MB/s: writing waits 0.4 s per cell, compressing takes ~15 ms
        window(tuner, clock, compress_s=0.015, write_s=0.4)
    assert tuner.level == LADDER[-1]


def test_a_host_without_spare_cpu_does_not_compress_harder() -> None:
    """Writing waits as on a limited link, but the compressing thread got a core for only a
    third of its time: the cores are busy (ten agents and the receiver on 2 cores, or the
    source's own work), and a harder level would take its cycles from them."""
    clock = Clock()
    tuner = LevelTuner(1, clock=clock)
    for _ in range(len(LADDER)):
        window(tuner, clock, compress_s=0.03, write_s=0.4, cpu_s=0.01)
    assert tuner.level == 1
    # a core of its own again (the other jobs done): the link is the bottleneck, up it goes
    window(tuner, clock, compress_s=0.015, write_s=0.4, cpu_s=STARVED_SHARE * 0.015 + 0.001)
    assert tuner.level == 3


def test_a_link_faster_than_the_compressor_goes_down_to_raw_and_stays() -> None:
    clock = Clock()
    tuner = LevelTuner(3, clock=clock)
    window(tuner, clock, compress_s=0.03, write_s=0.002)
    assert tuner.level == 1
    window(tuner, clock, compress_s=0.015, write_s=0.002)
    assert tuner.level == 0
    for _ in range(5):  # raw on loopback: writing waits less than level 1 would cost
        window(tuner, clock, compress_s=0.0, write_s=0.003)
    assert tuner.level == 0


def test_balanced_costs_keep_the_level() -> None:
    clock = Clock()
    tuner = LevelTuner(3, clock=clock)
    for _ in range(5):
        window(tuner, clock, compress_s=0.03, write_s=0.03)
    assert tuner.level == 3


def test_a_measured_expensive_level_is_not_climbed_into_again() -> None:
    """Going up uses what the next level cost when it was measured, not the guess."""
    clock = Clock()
    tuner = LevelTuner(6, clock=clock)
    window(tuner, clock, compress_s=0.5, write_s=0.05)  # level 6 is too slow here: down
    assert tuner.level == 3
    window(tuner, clock, compress_s=0.04, write_s=0.3)  # wait 2.4 s < 2 x (0.5 - 0.04) x 8
    assert tuner.level == 3


def test_decisions_wait_for_a_whole_window() -> None:
    clock = Clock()
    tuner = LevelTuner(1, clock=clock)
    for _ in range(WINDOW_CELLS - 1):  # fast cells: 7 of them take less than WINDOW_MAX_S
        clock.now += 0.9 * WINDOW_MAX_S / WINDOW_CELLS
        assert not tuner.record(in_bytes=CELL, compress_s=0.01, write_s=0.1)
    assert tuner.level == 1


def test_a_slow_link_decides_after_a_few_cells_not_a_whole_window() -> None:
    """At 10 MB/s a 4 MiB cell per connection takes ~0.6 s: 8 cells made the first step 5.7 s
    late; a window also ends after WINDOW_MAX_S, once it holds WINDOW_MIN_CELLS."""
    clock = Clock()
    tuner = LevelTuner(1, clock=clock)
    for _ in range(WINDOW_MIN_CELLS - 1):
        clock.now += WINDOW_MAX_S
        assert not tuner.record(in_bytes=CELL, compress_s=0.015, write_s=0.6)
    clock.now += WINDOW_MAX_S
    assert tuner.record(in_bytes=CELL, compress_s=0.015, write_s=0.6)
    assert tuner.level == 3


def test_the_users_level_is_on_the_ladder_and_zero_has_no_tuner() -> None:
    assert 19 in ladder_for(19) and ladder_for(19)[0] == 0
    assert LevelTuner(19).level == 19
    with pytest.raises(ValueError):
        LevelTuner(0)
