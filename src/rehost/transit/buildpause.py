"""Test-only: pause the image build at named steps so a fault test can kill the server there.

`REHOST_TEST_BUILD_PAUSE=copied,prepared:1.5;cleaning:4` logs "test pause at build step
<step>" and sleeps 1.5 s after each of copied and prepared, 4 s after cleaning (steps:
rehost.transit.buildstep.BUILD_STEPS). Unset in production; an unknown step or a bad number
refuses the start.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping

from rehost.config import SettingsError
from rehost.transit.buildstep import BUILD_STEPS, PausePoint, no_pause

ENV = "REHOST_TEST_BUILD_PAUSE"


def pause_from_env(env: Mapping[str, str]) -> PausePoint:
    """The pause hook REHOST_TEST_BUILD_PAUSE asks for (none when unset)."""
    text = env.get(ENV, "").strip()
    if not text:
        return no_pause
    delays: dict[str, float] = {}
    for group in text.split(";"):
        delays.update(_group(group, text))

    def pause(step: str) -> None:
        delay_s = delays.get(step)
        if delay_s is not None:
            # straight to stderr, flushed: the server's logging config may drop early loggers
            sys.stderr.write(f"test pause at build step {step} for {delay_s:.1f} s\n")
            sys.stderr.flush()
            time.sleep(delay_s)

    return pause


def _group(group: str, text: str) -> dict[str, float]:
    """STEP[,STEP…][:SECONDS] -> {step: seconds}; SettingsError naming the variable."""
    names, _, seconds = group.partition(":")
    steps = {s.strip() for s in names.split(",") if s.strip()}
    unknown = steps - set(BUILD_STEPS)
    try:
        delay_s = float(seconds or "2")
    except ValueError:
        delay_s = -1.0
    if unknown or not steps or not 0 <= delay_s <= 600:
        raise SettingsError(
            f"{ENV} must be STEP[,STEP…][:SECONDS] groups separated by ';' with steps from "
            f"{', '.join(BUILD_STEPS)} and 0–600 seconds, got {text!r} "
            f"({ENV} 格式应为 步骤[,步骤…][:秒数]，多组以分号分隔)")
    return dict.fromkeys(steps, delay_s)
