"""The job's rate and ETA over a sliding window of its own progress samples."""

from __future__ import annotations

import pytest

from rehost.domain.throughput import (
    WINDOW_S,
    ProgressSample,
    add_sample,
    throughput,
)

MIB = 1024 * 1024


def _series(points: list[tuple[float, int]]) -> tuple[ProgressSample, ...]:
    samples: tuple[ProgressSample, ...] = ()
    for at_s, done in points:
        samples = add_sample(samples, ProgressSample(at_s, done))
    return samples


def test_bursty_commits_under_a_limit_read_as_the_limit() -> None:
    # a 1 MiB/s limit, 4 MiB chunks committed by four connections in bursts every ~4 s:
    # each report's own interval would say 8 MiB/s (4 MiB in 0.5 s)
    points = [(0.0, 0)]
    for burst in range(1, 6):
        points += [(4.0 * burst - 0.5, 4 * MIB * (burst - 1)), (4.0 * burst, 4 * MIB * burst)]
    speed = throughput(_series(points), bytes_total=100 * MIB)
    assert speed.rate_bytes_per_s == pytest.approx(MIB, rel=0.1)
    assert speed.eta_s == pytest.approx(80, rel=0.1)


def test_the_window_forgets_old_speed() -> None:
    fast = [(float(t), t * 10 * MIB) for t in range(0, 11)]  # 10 MiB/s for 10 s
    slow = [(10.0 + t, 100 * MIB + t * MIB) for t in range(1, 31)]  # then 1 MiB/s for 30 s
    samples = _series(fast + slow)
    assert throughput(samples, bytes_total=1000 * MIB).rate_bytes_per_s == pytest.approx(MIB)
    assert samples[0].at_s < samples[-1].at_s - WINDOW_S <= samples[1].at_s  # one anchor kept
    assert len(samples) <= WINDOW_S + 2


def test_too_few_or_too_close_samples_give_no_rate() -> None:
    assert throughput((), bytes_total=10).rate_bytes_per_s == 0.0
    one = _series([(0.0, 5)])
    assert throughput(one, bytes_total=10).eta_s is None
    close = _series([(0.0, 0), (0.2, MIB)])
    assert throughput(close, bytes_total=10 * MIB).rate_bytes_per_s == 0.0


def test_done_means_no_time_left_and_a_stall_means_unknown() -> None:
    done = _series([(0.0, 0), (5.0, 10 * MIB)])
    assert throughput(done, bytes_total=10 * MIB).eta_s == 0.0
    stalled = _series([(0.0, MIB), (5.0, MIB)])
    speed = throughput(stalled, bytes_total=10 * MIB)
    assert (speed.rate_bytes_per_s, speed.eta_s) == (0.0, None)


def test_a_restarted_pass_or_a_pause_starts_the_window_anew() -> None:
    went_down = _series([(0.0, 0), (5.0, 50 * MIB), (6.0, 2 * MIB)])
    assert went_down == (ProgressSample(6.0, 2 * MIB),)
    paused = _series([(0.0, 0), (5.0, 5 * MIB), (5.0 + WINDOW_S + 60, 6 * MIB)])
    assert len(paused) == 1  # the minute paused is not averaged into the speed
    after = add_sample(paused, ProgressSample(5.0 + WINDOW_S + 62, 8 * MIB))
    assert throughput(after, bytes_total=100 * MIB).rate_bytes_per_s == pytest.approx(MIB)
