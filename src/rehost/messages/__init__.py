"""One message catalogue per language (`en.json`, `zh-CN.json`): message keys → text templates.

An error or job-log line carries a key (usually its SMC code) and parameters; the text is
rendered from the catalogue of the caller's language at the edge (API body, CLI, console, job
log). Templates use `str.format` fields: `{status}`, `{name!r}`. Every key has a text in both
languages and every entry is used by the code (tests/test_messages.py).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

LANGUAGES = ("en", "zh-CN")
_DIR = Path(__file__).resolve().parent


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """The catalogue of `language` ("en" or "zh-CN"), read once per process."""
    if language not in LANGUAGES:
        raise ValueError(f"no message catalogue for {language!r}; use one of {LANGUAGES}")
    data: dict[str, str] = json.loads((_DIR / f"{language}.json").read_text(encoding="utf-8"))
    return data


def language_of(lang: str) -> str:
    """The catalogue for a caller's language tag ("zh…" → zh-CN, anything else → en)."""
    return "zh-CN" if lang.lower().startswith("zh") else "en"


def render(key: str, lang: str = "en", **params: object) -> str:
    """The text of `key` in the caller's language with `params` filled in."""
    try:
        template = catalogue(language_of(lang))[key]
    except KeyError as exc:
        raise KeyError(f"message {key!r} is not in the {language_of(lang)} catalogue") from exc
    return template.format(**params)


def both(key: str, **params: object) -> tuple[str, str]:
    """(English, Chinese) text of `key`."""
    return render(key, "en", **params), render(key, "zh-CN", **params)


def has(key: str) -> bool:
    """Whether `key` has a text (in English; the test checks both catalogues agree)."""
    return key in catalogue("en")
