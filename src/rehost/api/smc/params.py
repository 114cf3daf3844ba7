"""RPC parameters as the SDK flattens them (`DataDisk.1.Size`, `JobId.2`), read with validation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from rehost.api.smc import errors

_INTEGER = re.compile(r"[-+]?[0-9]{1,18}")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class Params:
    """Flat string parameters of one RPC call (query string merged with a form body)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for key, value in pairs:
            if "\x00" in key or "\x00" in value:
                raise errors.invalid_parameter(key.replace("\x00", ""),
                                               "contains a NUL character (\\0); remove it")
            self._values.setdefault(key, value)

    def items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair of the call."""
        return list(self._values.items())

    def has(self, name: str) -> bool:
        """Whether the parameter was sent (possibly empty)."""
        return name in self._values

    def text(self, name: str, default: str = "") -> str:
        """A string parameter."""
        return self._values.get(name, default)

    def optional_text(self, name: str) -> str | None:
        """A string parameter, or None when it was not sent."""
        return self._values.get(name)

    def required(self, name: str) -> str:
        """A non-empty string parameter; MissingParameter otherwise."""
        value = self._values.get(name, "")
        if not value:
            raise errors.missing_parameter(name)
        return value

    def integer(self, name: str, *, low: int | None = None, high: int | None = None) -> int | None:
        """An integer parameter within [low, high], or None when not sent."""
        raw = self._values.get(name)
        if raw is None or raw == "":
            return None
        if not _INTEGER.fullmatch(raw):  # int() would also take " 1_0 " and non-ASCII digits
            raise errors.invalid_parameter(name, f"{raw[:40]!r} is not an integer")
        value = int(raw)
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{'' if low is None else low}–{'' if high is None else high}"
            raise errors.invalid_parameter(name, f"{value} is outside {bounds}")
        return value

    def boolean(self, name: str) -> bool | None:
        """A boolean parameter (`true`/`false`, any case), or None when not sent."""
        raw = self._values.get(name)
        if raw is None or raw == "":
            return None
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise errors.invalid_parameter(name, f"{raw!r} is not true or false")

    def timestamp(self, name: str) -> datetime | None:
        """An ISO 8601 UTC time (`2026-12-01T08:00:00Z`), or None when not sent."""
        raw = self._values.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except (ValueError, OverflowError) as exc:  # 0001-01-01T00:00+01:00 overflows in UTC
            raise errors.invalid_parameter(name, f"{raw!r} is not yyyy-MM-ddTHH:mm:ssZ") from exc

    def repeated(self, name: str) -> list[str]:
        """A list parameter `Name.1`, `Name.2`, … in index order."""
        found = _indexed(self._values, re.compile(rf"^{re.escape(name)}\.(\d+)$"))
        return [self._values[key] for _, key in found]

    def records(self, name: str) -> list[dict[str, str]]:
        """A list of objects `Name.N.Field`, in index order, each as {Field: value}."""
        pattern = re.compile(rf"^{re.escape(name)}\.(\d+)\.(.+)$")
        grouped: dict[int, dict[str, str]] = {}
        for key, value in self._values.items():
            match = pattern.match(key)
            if match:
                grouped.setdefault(int(match.group(1)), {})[match.group(2)] = value
        return [grouped[i] for i in sorted(grouped)]


def _indexed(values: dict[str, str], pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    found = []
    for key in values:
        match = pattern.match(key)
        if match:
            found.append((int(match.group(1)), key))
    return sorted(found)
