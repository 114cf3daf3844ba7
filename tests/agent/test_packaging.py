"""`pip install rehost[agent]` brings only the agent's optional accelerators; the server stack
is `rehost[server]`; `rehost-agent` is a console script; `rehost` without the server stack says
what to install. Checked on the metadata of a wheel pip builds from pyproject.toml."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_STACK = {"fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "pydantic", "httpx",
                "click", "cryptography", "jinja2"}


@pytest.fixture(scope="module")
def dist_info(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .dist-info directory of the wheel `pip wheel .` builds (build isolation, ~15 s)."""
    out = tmp_path_factory.mktemp("wheel")
    # a private copy of the sources: setuptools writes build/ and *.egg-info inside the tree
    # it builds, and two builds of one tree at once collide there
    tree = out / "tree"
    shutil.copytree(ROOT / "src", tree / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, tree / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                           str(out / "dist"), str(tree)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (out / "dist").glob("rehost-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        members = [n for n in archive.namelist() if ".dist-info/" in n]
        archive.extractall(out / "unpacked", members)
    (info,) = (out / "unpacked").glob("*.dist-info")
    return info


def _requires(dist_info: Path) -> dict[str, set[str]]:
    """Extra ("" for the default) -> project names it requires."""
    meta = Parser().parsestr((dist_info / "METADATA").read_text())
    out: dict[str, set[str]] = {}
    for line in meta.get_all("Requires-Dist") or []:
        name = re.split(r"[\s\[<>=!;~]", line, maxsplit=1)[0].lower()
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", line)
        out.setdefault(extra.group(1) if extra else "", set()).add(name)
    return out


def _agent_optional_imports() -> set[str]:
    """Top-level modules the agent closure imports inside try (its accelerators)."""
    found: set[str] = set()
    for path in [*(ROOT / "src/rehost/agent").glob("*.py"), ROOT / "src/rehost/chunkdigest.py",
                 ROOT / "src/rehost/wire.py"]:
        found |= set(re.findall(r"^try:[^\n]*\n\s+import (\w+)", path.read_text(), re.M))
    return found


def test_agent_extra_is_the_accelerators_only(dist_info: Path) -> None:
    requires = _requires(dist_info)
    assert requires.get("", set()) == set()  # the agent needs the standard library alone
    assert requires["agent"] == {"xxhash", "zstandard"} == _agent_optional_imports()
    assert not requires["agent"] & SERVER_STACK


def test_server_extra_holds_the_server_stack(dist_info: Path) -> None:
    requires = _requires(dist_info)
    assert requires["server"] >= SERVER_STACK | {"xxhash", "zstandard"}


def test_console_scripts(dist_info: Path) -> None:
    points = configparser.ConfigParser()
    points.read(dist_info / "entry_points.txt")
    assert points["console_scripts"]["rehost-agent"] == "rehost.agent.cli:main"
    assert points["console_scripts"]["rehost"] == "rehost.launcher:main"


def test_rehost_without_the_server_stack_names_the_extra() -> None:
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("click", "httpx"):
            raise ModuleNotFoundError("No module named " + repr(name), name=name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, {str(ROOT / "src")!r})
from rehost.launcher import main
main()
"""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "pip install 'rehost[server]'" in proc.stderr and "请执行" in proc.stderr
