"""The agent's import closure is stdlib only: it loads under `python3 -I -S` with the server
stack and the accelerators blocked, and `vermin` finds nothing newer than Python 3.6."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
BLOCKED = ("fastapi", "sqlalchemy", "pydantic", "httpx", "click", "zstandard", "xxhash",
           "cryptography", "uvicorn")
AGENT_MODULES = ("rehost.agent.main", "rehost.agent.discovery", "rehost.agent.sender",
                 "rehost.agent.apiclient", "rehost.agent.state", "rehost.agent.tls",
                 "rehost.agent.cli", "rehost.agent.preflight", "rehost.agent.sysblock")
CLOSURE = ("rehost/agent", "rehost/wire.py", "rehost/chunkdigest.py", "rehost/diskfmt",
           "rehost/privatefile.py", "rehost/errorbody.py", "rehost/protocol")

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
               if not m.startswith(("rehost.agent", "rehost.diskfmt", "rehost.protocol"))
               and m not in ("rehost.wire", "rehost.chunkdigest", "rehost.privatefile",
                             "rehost.errorbody")}
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


def _runtime_annotations(tree: ast.AST) -> list[ast.expr]:
    """Annotations Python evaluates at definition time: signatures and class-level fields."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            args = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            found += [x.annotation for x in args if x is not None and x.annotation is not None]
            found += [node.returns] if node.returns is not None else []
        elif isinstance(node, ast.ClassDef):
            found += [s.annotation for s in node.body if isinstance(s, ast.AnnAssign)]
    return found


TYPING_ONLY = {"Optional", "List", "Dict", "Tuple", "Set", "FrozenSet", "Union", "Type"}


def _safe_on_36(node: ast.expr) -> bool:
    """A string, None, a bare (dotted) name or typing.Optional[...]-style generics:
    no `list[int]`, no `X | None`, no `collections.abc.Sequence[...]`."""
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, str)
    if isinstance(node, ast.Subscript):
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return (isinstance(node.value, ast.Name) and node.value.id in TYPING_ONLY
                and all(_safe_on_36(i) for i in items))
    if isinstance(node, ast.Attribute):
        return _safe_on_36(node.value)
    return isinstance(node, ast.Name)


def test_runtime_annotations_are_quoted_where_python_36_would_fail() -> None:
    """vermin does not read annotations: `def f(x: list[int])` would fail to import on 3.8."""
    bad = []
    for part in CLOSURE:
        path = SRC / part
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            for node in _runtime_annotations(ast.parse(file.read_text(encoding="utf-8"))):
                if not _safe_on_36(node):
                    bad.append(f"{file.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    assert not bad, "quote these annotations:\n" + "\n".join(bad)
