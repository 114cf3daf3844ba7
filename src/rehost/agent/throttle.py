"""Token-bucket bandwidth limit on bytes on the wire, shared by a job's connections."""

import threading
import time
from collections.abc import Callable

KIB = 1024
SLICE_BYTES = 64 * KIB
# Tokens saved while no connection writes (each compresses its next cell) are spent after, up
# to this much of the rate: with a cap of 2 slices, two connections compressing at zstd 9 at
# once (~50 ms a 4 MiB cell) left the wire idle and a 10 MB/s limit ran 3-5 % under.
BURST_S = 0.2


class TokenBucket:
    """Blocks callers so that the long-run rate never exceeds rate_bytes_per_s.

    Tokens may go negative (debt): a caller takes what it needs at once and then sleeps off its
    debt outside the lock, so many threads share one smooth rate without a polling loop.
    The bucket starts empty, so a transfer never begins with a burst above the limit; idle
    time saves at most burst_bytes (default: BURST_S of the rate, at least 2 slices), so any
    second carries at most the rate plus that burst.
    """

    def __init__(
        self,
        rate_bytes_per_s: float,
        *,
        burst_bytes: "int | None" = None,
        clock: "Callable[[], float]" = time.monotonic,
        sleep: "Callable[[float], None]" = time.sleep,
    ) -> None:
        if rate_bytes_per_s <= 0:
            raise ValueError("rate must be positive; use no bucket for unlimited")
        self.rate_bytes_per_s = float(rate_bytes_per_s)
        self._burst = float(burst_bytes if burst_bytes is not None
                            else max(2 * SLICE_BYTES, rate_bytes_per_s * BURST_S))
        self._clock = clock
        self._sleep = sleep
        self._tokens = 0.0
        self._stamp = clock()
        self._lock = threading.Lock()

    def consume(self, n_bytes: int) -> None:
        """Take n_bytes tokens, sleeping as long as the rate requires."""
        with self._lock:
            now = self._clock()
            self._tokens = min(
                self._burst, self._tokens + (now - self._stamp) * self.rate_bytes_per_s
            )
            self._stamp = now
            self._tokens -= n_bytes
            debt = -self._tokens
        if debt > 0:
            self._sleep(debt / self.rate_bytes_per_s)


def bucket_for(bandwidth_limit_kbps: int) -> "TokenBucket | None":
    """A bucket for a job's limit in KB/s (1 KB = 1024 bytes); None when 0 = unlimited."""
    if bandwidth_limit_kbps < 0:
        raise ValueError("bandwidth_limit_kbps must be >= 0")
    return TokenBucket(bandwidth_limit_kbps * KIB) if bandwidth_limit_kbps else None
