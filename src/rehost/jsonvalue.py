"""The type of a JSON value, checked by mypy (unlike `Any`): what JSON documents hold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

# Mapping/Sequence (not dict/list) so that a list of documents is a JSON value too
JsonValue: TypeAlias = (
    str | int | float | bool | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)
JsonObject: TypeAlias = dict[str, JsonValue]
