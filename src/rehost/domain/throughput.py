"""A job's transfer rate and ETA over a sliding window of its own progress samples.

Each sample is (time in seconds, bytes done over all disks and connections). The rate is
the bytes gained between the oldest sample inside the window (or the last one just before
it, as the anchor) and the newest one, divided by the time between them: a connection's
short burst no longer reads as the job's speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

WINDOW_S: Final = 15.0
MIN_SPAN_S: Final = 1.0  # below this the rate of two samples is noise: report none yet


@dataclass(frozen=True, slots=True)
class ProgressSample:
    """Bytes done (all disks) at one moment, in seconds on any monotonic scale."""

    at_s: float
    bytes_done: int


@dataclass(frozen=True, slots=True)
class Throughput:
    """The windowed rate and the time left at that rate (None when not known)."""

    rate_bytes_per_s: float
    eta_s: float | None


def add_sample(samples: Sequence[ProgressSample], sample: ProgressSample, *,
               window_s: float = WINDOW_S) -> tuple[ProgressSample, ...]:
    """Append ``sample`` and drop what the window no longer needs (one anchor is kept).

    A sample whose bytes went down (a restarted pass), or one after a silence longer than the
    window (a pause), starts the window anew.
    """
    if any(s.bytes_done > sample.bytes_done or s.at_s > sample.at_s for s in samples):
        return (sample,)
    if samples and sample.at_s - samples[-1].at_s > window_s:
        return (sample,)
    kept = [s for s in samples if s.at_s < sample.at_s]
    inside = [s for s in kept if s.at_s >= sample.at_s - window_s]
    before = [s for s in kept if s.at_s < sample.at_s - window_s]
    return (*before[-1:], *inside, sample)


def throughput(samples: Sequence[ProgressSample], *, bytes_total: int,
               window_s: float = WINDOW_S) -> Throughput:
    """Rate from the anchor to the newest sample; ETA = bytes left / rate."""
    if len(samples) < 2:
        return Throughput(0.0, None)
    newest = samples[-1]
    anchor = _anchor(samples, newest.at_s - window_s)
    span_s = newest.at_s - anchor.at_s
    if span_s < MIN_SPAN_S:
        return Throughput(0.0, None)
    rate = max(0, newest.bytes_done - anchor.bytes_done) / span_s
    left = max(0, bytes_total - newest.bytes_done)
    if left == 0:
        return Throughput(rate, 0.0)
    return Throughput(rate, left / rate if rate > 0 else None)


def _anchor(samples: Sequence[ProgressSample], start_s: float) -> ProgressSample:
    """The last sample at or before the window's start, else the oldest one inside it."""
    before = [s for s in samples[:-1] if s.at_s <= start_s]
    return before[-1] if before else samples[0]
