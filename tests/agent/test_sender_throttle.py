"""Bandwidth limit on wire bytes: the token bucket alone, and a real limited transfer."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from pathlib import Path

import pytest

from rehost.agent.sender import send_job
from rehost.agent.throttle import BURST_S, SLICE_BYTES, TokenBucket, bucket_for
from rehost.transit.ports import TransitDisk, TransitJobSpec

MIB = 1024 * 1024


def test_bucket_rate_with_fake_clock() -> None:
    now = [0.0]
    bucket = TokenBucket(1000.0, burst_bytes=100, clock=lambda: now[0],
                         sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(50):
        bucket.consume(200)
    assert abs(now[0] - 10.0) < 1e-9  # 10 000 bytes at 1000 B/s, no initial burst
    assert bucket_for(0) is None and bucket_for(10).rate_bytes_per_s == 10240  # type: ignore[union-attr]


def test_idle_time_is_saved_up_to_burst_s_of_the_rate() -> None:
    """Two connections compressing at once leave the wire idle; those tokens are spent after
    (up to BURST_S of the rate), so the long-run rate stays at the limit, never above it."""
    now, slept = [0.0], []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    rate = 10 * MIB
    bucket = TokenBucket(rate, clock=lambda: now[0], sleep=sleep)
    bucket.consume(SLICE_BYTES)  # starts empty: no burst at the start
    assert slept and abs(slept[-1] - SLICE_BYTES / rate) < 1e-9
    slept.clear()
    now[0] += 1.0  # a pause: only BURST_S worth of it is saved
    bucket.consume(int(rate * BURST_S))
    assert not slept
    bucket.consume(rate)  # a second's worth more takes a second
    assert abs(sum(slept) - 1.0) < 1e-9


def test_real_transfer_holds_the_limit_within_5_percent(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from transit.harness import transit_rig  # the shared real-TLS rig

    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(16 * MIB))
    limit_kbps = 3072  # 3 MiB/s: about 2.5 s for what gets through before the stop
    with transit_rig(tmp_path / "t") as rig:
        rig.control.add_job("tok", TransitJobSpec("j", tmp_path / "t" / "j",
                                                  (TransitDisk(0, 16 * MIB, 16 * MIB),), False))
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=MIB, bandwidth_limit_kbps=limit_kbps)
        stop = threading.Event()
        timer = threading.Timer(2.5, stop.set)
        started = time.perf_counter()
        timer.start()
        result = send_job(spec, stop=stop)
        elapsed = time.perf_counter() - started
    rate = result.wire_bytes_sent / elapsed
    assert not result.completed
    assert abs(rate / (limit_kbps * 1024) - 1) <= 0.05, rate


def test_under_a_limit_compression_climbs_and_the_wire_stays_at_the_limit(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Writing waits on the bucket, so the agent compresses harder; the wire rate holds."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from transit.harness import transit_rig

    words = [os.urandom(4).hex().encode() for _ in range(3000)]
    rng = random.Random(7)
    src = tmp_path / "src.img"
    src.write_bytes(b" ".join(rng.choices(words, k=4 * MIB))[: 32 * MIB])
    limit_kbps = 2048
    with transit_rig(tmp_path / "t") as rig, caplog.at_level(logging.INFO, "rehost.agent"):
        rig.control.add_job("tok", TransitJobSpec("j", tmp_path / "t" / "j",
                                                  (TransitDisk(0, 32 * MIB, 32 * MIB),), False))
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=MIB, bandwidth_limit_kbps=limit_kbps,
                             compress_level=1)
        stop = threading.Event()
        timer = threading.Timer(4.0, stop.set)
        started = time.perf_counter()
        timer.start()
        result = send_job(spec, stop=stop)
        elapsed = time.perf_counter() - started
    levels = [r.getMessage() for r in caplog.records if "adaptive compression" in r.getMessage()]
    assert levels and levels[-1].endswith(("level 3", "level 6", "level 9")), levels
    assert result.wire_bytes_sent / elapsed <= limit_kbps * 1024 * 1.05
    assert result.raw_bytes_sent > 2 * result.wire_bytes_sent  # compressed, not sent raw
