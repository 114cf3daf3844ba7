"""The agent's import closure is stdlib only: it loads under `python3 -I -S` with the server
stack and the accelerators blocked, and `vermin` finds nothing newer than Python 3.6."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
BLOCKED = ("fastapi", "sqlalchemy", "pydantic", "httpx", "click", "zstandard", "xxhash",
           "cryptography", "uvicorn")
AGENT_MODULES = ("rehost.agent.main", "rehost.agent.discovery", "rehost.agent.sender",
                 "rehost.agent.apiclient", "rehost.agent.state", "rehost.agent.tls")
CLOSURE = ("rehost/agent", "rehost/wire.py", "rehost/diskfmt", "rehost/privatefile.py")

PROBE = """
import importlib, importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked for the portable agent: " + name)
        return None
sys.meta_path.insert(0, Block())
sys.path.insert(0, {src!r})
for name in {modules!r}:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.startswith("rehost."))
print(" ".join(loaded))
"""


def test_agent_imports_under_isolated_python_with_server_stack_blocked() -> None:
    code = PROBE.format(blocked=BLOCKED, src=str(SRC), modules=AGENT_MODULES)
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split())
    assert set(AGENT_MODULES) <= loaded
    outside = {m for m in loaded
               if not m.startswith(("rehost.agent", "rehost.diskfmt"))
               and m not in ("rehost.wire", "rehost.privatefile")}
    assert not outside, f"the agent pulls in server modules: {sorted(outside)}"


def test_blocking_really_blocks() -> None:
    """The probe itself must fail when the closure reaches a blocked module."""
    code = PROBE.format(blocked=BLOCKED, src=str(SRC), modules=("rehost.client",))
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "blocked for the portable agent: httpx" in proc.stderr


def test_vermin_finds_nothing_newer_than_python_36() -> None:
    vermin = shutil.which("vermin") or str(Path(sys.executable).parent / "vermin")
    if not Path(vermin).exists():
        pytest.fail("vermin is missing: pip install -e '.[dev]'")
    proc = subprocess.run([vermin, "--target=3.6-", "--no-tips", "--violations",
                           *(str(SRC / p) for p in CLOSURE)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
