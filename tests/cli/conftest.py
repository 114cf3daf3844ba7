"""Fixtures of the CLI tests: a live server and a runner of the real `rehost` command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smc.live import LiveServer, run_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real `rehost server` process per test module."""
    with run_server(tmp_path_factory.mktemp("cli") / "data") as server:
        yield server


@dataclass(frozen=True, slots=True)
class Result:
    """Exit code and output of one `rehost` run."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as one JSON document."""
        return json.loads(self.stdout)


def rehost(*args: str, env: dict[str, str], timeout_s: float = 60) -> Result:
    """Run the installed `rehost` entry point as a real process."""
    exe = Path(sys.executable).with_name("rehost")
    done = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    return Result(done.returncode, done.stdout, done.stderr)
