"""The outcome of one post-migration check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CheckStatus = Literal["pass", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: `fail` blocks publishing, `warn` tells the user what to fix."""

    name: str
    status: CheckStatus
    message_en: str
    message_zh: str
    hint: str = ""
