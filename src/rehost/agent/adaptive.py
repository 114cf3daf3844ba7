"""Adaptive compression: each connection's level follows its bottleneck (zstd --adapt's rule).

A connection spends its time compressing cells and writing them (the socket and, under a
bandwidth limit, the token bucket). When writing waits well beyond what the next level up
would cost to compress, the link is the bottleneck and compressing harder sends the same disk
bytes in less wire time: the level goes up. When compressing takes the time and writing hardly
waits, the compressor is the bottleneck: the level goes down, to raw at the bottom (a link
faster than the compressor). Decisions are taken once per window of cells, with a margin each
way, so the level does not flap. Compression level 0 (the user's "none") never compresses and
has no tuner.

zstd's rule does not know whose CPU a higher level takes. When the compressing thread got a
core for less than STARVED_SHARE of the time it spent compressing, the host's cores are all
busy (the source server's own work, or other jobs' agents and the receiver on one host): the
level is not raised then, since the cycles a harder level needs would come from them. Seen with
ten jobs on a 2-core host: every agent climbed to level 6, and they all took longer.
"""

import time
from collections.abc import Callable

LADDER = (0, 1, 3, 6, 9)  # 0 = raw; zstd levels (zlib takes min(level, 9))
WINDOW_CELLS = 8  # a window ends after this many cells (32 MiB at the default cell size)
WINDOW_MAX_S = 1.0  # or once this long has passed (a slow link: 8 cells took 5.7 s at 10 MB/s)
WINDOW_MIN_CELLS = 2  # but never before this many cells
WINDOW_MIN_S = 0.25  # nor before this long
UP_MARGIN = 2.0  # writing must wait this many times the extra compression cost to go up
DOWN_FRACTION = 0.2  # writing waits under this share of the compression time: go down
STARVED_SHARE = 0.75  # compressing got a core less than this share of its time: no going up
# compression seconds per input byte assumed for a level not measured yet (zstd on one core)
DEFAULT_COST_S_PER_BYTE = {0: 0.0, 1: 1 / 300e6, 3: 1 / 150e6, 6: 1 / 60e6, 9: 1 / 35e6}


def _default_cost(level: int) -> float:
    """The assumed cost of a level: that of the nearest listed level at or below it."""
    return DEFAULT_COST_S_PER_BYTE[max(lv for lv in DEFAULT_COST_S_PER_BYTE if lv <= level)]


def ladder_for(start_level: int) -> "tuple[int, ...]":
    """The levels a job at start_level moves between (its own level among them)."""
    return tuple(sorted(set(LADDER) | {start_level}))


class LevelTuner:
    """Chooses the compression level of one connection from its measured costs."""

    def __init__(self, start_level: int, *,
                 clock: "Callable[[], float]" = time.monotonic) -> None:
        if start_level < 1:
            raise ValueError("level 0 means no compression: it has no tuner")
        self._ladder = ladder_for(start_level)
        self._at = self._ladder.index(start_level)
        self._cost: dict[int, float] = {0: 0.0}  # seconds per input byte, measured here
        self._clock = clock
        self._reset()

    @property
    def level(self) -> int:
        """The level to compress the next cell at (0 = send it raw)."""
        return self._ladder[self._at]

    def record(self, *, in_bytes: int, compress_s: float, write_s: float,
               compress_cpu_s: "float | None" = None) -> bool:
        """Account one cell; returns True when the level changed.

        compress_s is the wall time compressing took, compress_cpu_s the CPU time the thread
        got in it (None: not measured, never starved).
        """
        self._cells += 1
        self._in += in_bytes
        self._compress_s += compress_s
        self._cpu_s += compress_s if compress_cpu_s is None else compress_cpu_s
        self._write_s += write_s
        took = self._clock() - self._since
        if (self._cells < WINDOW_MIN_CELLS or took < WINDOW_MIN_S
                or (self._cells < WINDOW_CELLS and took < WINDOW_MAX_S)):
            return False
        before = self._at
        self._decide()
        self._reset()
        return self._at != before

    def _decide(self) -> None:
        level = self.level
        if level and self._in:
            self._cost[level] = self._compress_s / self._in  # what this host pays, measured
        if self._at > 0 and level and self._write_s < DOWN_FRACTION * self._compress_s:
            self._at -= 1  # the compressor is the bottleneck
            return
        starved = self._cpu_s < STARVED_SHARE * self._compress_s
        if self._at + 1 < len(self._ladder) and not starved:
            extra = (self._cost_of(self._ladder[self._at + 1]) - self._cost_of(level)) * self._in
            if self._write_s > UP_MARGIN * max(extra, 0.0):
                self._at += 1  # the link is: compress harder

    def _cost_of(self, level: int) -> float:
        """Measured cost, else the guess scaled by how this host did on the current level."""
        if level in self._cost:
            return self._cost[level]
        current = self.level
        if current in self._cost and current:
            return _default_cost(level) * self._cost[current] / _default_cost(current)
        return _default_cost(level)

    def _reset(self) -> None:
        self._cells, self._in = 0, 0
        self._compress_s = self._write_s = self._cpu_s = 0.0
        self._since = self._clock()
