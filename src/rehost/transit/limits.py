"""Bounds of the data port before and after authentication (HELLO), configurable at start-up.

    REHOST_DATA_HELLO_TIMEOUT_S          TLS handshake + HELLO must finish within this (10)
    REHOST_DATA_MAX_CONNECTIONS          open data connections in total (256)
    REHOST_DATA_MAX_CONNECTIONS_PER_IP   open data connections per source address (64)

Each connection costs two threads at most (its reader and, after HELLO, its disk writer), so
the pool never runs more than 2 * max_connections + 3 threads (its own: accept, reaper, progress
relay). Before HELLO a frame may be at most `PREAUTH_FRAME_BYTES`; the 16 MiB data frame limit
applies only to a valid data token.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

PREAUTH_FRAME_BYTES = 64 * 1024  # HELLO is a few hundred bytes of JSON
AUTO_RECEIVERS_MAX = 4  # receivers "auto": one receiver process per core, up to this many
MAX_RECEIVERS = 32


def receiver_count(requested: int, cores: int | None) -> int:
    """Receiver processes of a data port: `requested`, or for 0 (auto) one per core up to 4."""
    return requested or max(1, min(AUTO_RECEIVERS_MAX, cores or 1))


@dataclass(frozen=True, slots=True)
class DataPortLimits:
    """How much an unauthenticated peer may hold on the data port, and for how long."""

    hello_timeout_s: float = 10.0
    max_connections: int = 256
    max_connections_per_address: int = 64
    preauth_frame_bytes: int = PREAUTH_FRAME_BYTES


_ENV = {
    "REHOST_DATA_HELLO_TIMEOUT_S": "hello_timeout_s",
    "REHOST_DATA_MAX_CONNECTIONS": "max_connections",
    "REHOST_DATA_MAX_CONNECTIONS_PER_IP": "max_connections_per_address",
}


def limits_from_env(env: Mapping[str, str]) -> DataPortLimits:
    """The limits with overrides from env; a bad value is refused with a message naming it."""
    values: dict[str, float | int] = {}
    for name, attr in _ENV.items():
        text = env.get(name, "").strip()
        if not text:
            continue
        try:
            value: float | int = float(text) if attr.endswith("_s") else int(text)
        except ValueError:
            value = 0
        if not 0 < value < math.inf:
            raise bad_setting(name, text)
        values[attr] = value
    return DataPortLimits(**values)  # type: ignore[arg-type]


class LimitSettingError(ValueError):
    """A data port limit in the environment is not a positive number."""


def bad_setting(name: str, text: str) -> LimitSettingError:
    """A data port limit that is not a positive number."""
    return LimitSettingError(
        f"{name}={text!r} is not a positive number; set a finite value above 0 or unset it"
        f" / {name}={text!r} 不是正数；请设为大于 0 的有限值或删除该设置"
    )
