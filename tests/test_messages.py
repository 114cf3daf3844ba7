"""The message catalogues: every key used has a text in both languages, every entry is used."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from rehost import messages
from rehost.domain import errors
from rehost.domain.errors import InvalidStatus

SRC = Path(__file__).resolve().parents[1] / "src" / "rehost"
RENDERERS = {"render", "both", "has", "from_catalogue"}
# keys built at run time from a code the agent or the transit reports: "hint.agent.<code>"
FAMILIES = ("hint.agent.", "hint.transit.")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _calls() -> list[tuple[str, str]]:
    """(file, key) of every literal key given to the catalogue in src/rehost."""
    found = []
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        bare = "from rehost.messages import" in text
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call) or not _is_catalogue(node.func, bare=bare):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            named = {k.arg: k.value for k in node.keywords if isinstance(k.value, ast.Constant)}
            args = node.args[1:2] if name == "from_catalogue" else node.args[:1]
            if "key" in named:  # the positional argument is then the SMC code, not a key
                args = []
            given = [*args, *(v for k, v in named.items() if k in ("key", "hint_key"))]
            keys = [a.value for a in given if isinstance(a, ast.Constant)]
            found += [(path.name, k) for k in keys if isinstance(k, str)]
    return found


def _is_catalogue(func: ast.expr, *, bare: bool) -> bool:
    """messages.render/both/has(…), (errors.)from_catalogue(…), or render/both imported bare."""
    if isinstance(func, ast.Attribute):
        owner = getattr(func.value, "id", "")
        return func.attr == "from_catalogue" or (owner == "messages" and func.attr in RENDERERS)
    return isinstance(func, ast.Name) and (
        func.id == "from_catalogue" or (bare and func.id in RENDERERS))


def _literals() -> set[str]:
    """Every string literal in src/rehost (f-string parts included)."""
    seen: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        seen |= {n.value for n in ast.walk(tree)
                 if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return seen


def test_both_languages_have_the_same_keys_and_fields() -> None:
    en, zh = messages.catalogue("en"), messages.catalogue("zh-CN")
    assert sorted(set(en) ^ set(zh)) == []
    for key, text in en.items():
        assert text.strip() and zh[key].strip(), key
        assert _fields(text) == _fields(zh[key]), key


def test_every_key_the_code_uses_has_a_text() -> None:
    calls = _calls()
    assert len(calls) > 10  # the scan finds the call sites
    missing = [(f, k) for f, k in calls if k not in messages.catalogue("en")]
    assert missing == []


def test_every_entry_is_used_by_the_code() -> None:
    used = {k for _, k in _calls()}
    literals = _literals()
    unused = [k for k in messages.catalogue("en") if k not in used and not (
        k.startswith(FAMILIES) and k.split(".", 2)[2] in literals | {"default"})]
    assert unused == []


def test_an_error_renders_in_the_callers_language() -> None:
    exc = errors.job_status("pause", "Ready", "Running/Syncing, Waiting")
    assert (exc.key, exc.params["status"]) == ("ReplicationJob.InvalidStatus", "Ready")
    assert exc.localized("en") == exc.message and exc.message.startswith("Cannot pause")
    assert exc.localized("zh-CN") == exc.message_zh and "无法执行" in exc.message_zh
    cut = errors.from_catalogue(InvalidStatus, "ReplicationJob.InvalidStatus",
                                key="ReplicationJob.InvalidStatus.CutOverOneTime",
                                hint_key="hint.build.retry")
    assert "RunOnce=false" in cut.message and "重新开始任务" in cut.hint_zh
