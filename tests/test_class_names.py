"""One name per concept: no class name is defined twice in src/rehost."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "rehost"


def _class_homes(root: Path) -> dict[str, list[str]]:
    """Class name -> the modules that define it at top level."""
    homes: dict[str, list[str]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                homes[node.name].append(path.relative_to(root).as_posix())
    return homes


def test_no_class_name_is_defined_twice() -> None:
    homes = _class_homes(SRC)
    assert len(homes) > 100  # the scan sees the package
    assert {name: where for name, where in homes.items() if len(where) > 1} == {}


def test_the_scan_sees_a_duplicate(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("class Thing:\n    pass\n")
    (tmp_path / "b.py").write_text("class Thing:\n    pass\nclass Other:\n    pass\n")
    homes = _class_homes(tmp_path)
    assert homes["Thing"] == ["a.py", "b.py"] and homes["Other"] == ["b.py"]
