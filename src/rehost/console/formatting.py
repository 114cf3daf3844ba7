"""Human-readable sizes, rates, durations and times for the console pages."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from functools import cache

from rehost.console.i18n import Translator

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def fmt_bytes(size_bytes: int | float | None) -> str:
    """Format a byte count with binary units, e.g. ``1.25 GiB``."""
    if size_bytes is None:
        return "—"
    value = float(size_bytes)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def fmt_rate(bytes_per_s: float | None) -> str:
    """Format a transfer rate, e.g. ``42.00 MiB/s``; a dash when idle."""
    if not bytes_per_s:
        return "—"
    return f"{fmt_bytes(bytes_per_s)}/s"


def fmt_duration(seconds: float | None, t: Translator) -> str:
    """Format a duration as ``1 h 5 min`` (or the Chinese units); a dash when unknown."""
    if seconds is None or seconds < 0:
        return "—"
    total = int(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return t("unit.hm", h=hours, m=minutes)
    if minutes:
        return t("unit.ms", m=minutes, s=secs)
    return t("unit.s", s=secs)


def known_zone(name: str | None) -> str | None:
    """The IANA zone name if this machine's tz database has it, else None."""
    if not name or name not in available_zones():
        return None
    return name


@cache
def available_zones() -> tuple[str, ...]:
    """Every IANA zone name, sorted (UTC first)."""
    return ("UTC", *sorted(z for z in zoneinfo.available_timezones() if z != "UTC"))


def fmt_time(value: datetime | None, zone: str = "UTC") -> str:
    """Format a timestamp in ``zone``, ``2026-01-02 11:04:05 Asia/Shanghai`` (UTC by default)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    tz = UTC if zone == "UTC" else zoneinfo.ZoneInfo(zone)
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S ") + zone
