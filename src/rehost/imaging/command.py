"""Runs external tools and turns their failures into ToolError."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

from rehost.imaging.errors import ToolError

TOOL_ENV = {"LC_ALL": "C", "MTOOLS_SKIP_CHECK": "1"}


def run_tool(
    args: Sequence[str], *, input_text: str | None = None, ok_codes: tuple[int, ...] = (0,),
    timeout_s: float = 3600.0, env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a tool, capture its output, raise ToolError when its exit code is not in ok_codes."""
    command = list(args)
    try:
        proc = subprocess.run(
            command, input=input_text, capture_output=True, text=True, encoding="utf-8",
            errors="replace", timeout=timeout_s,
            env={**os.environ, **TOOL_ENV, **(env or {})}, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(command, -1, str(exc)) from exc
    if proc.returncode not in ok_codes:
        raise ToolError(command, proc.returncode, proc.stderr + proc.stdout)
    return proc
