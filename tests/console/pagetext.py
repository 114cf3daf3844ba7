"""What a person reads on a console page, and the sentences that must not be there."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

from rehost.console.i18n import load_catalog

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_WORDS = re.compile(r"[A-Za-z]{2,}[\s,'’-]+[A-Za-z]{2,}")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_SHOWN_ATTRS = ("title", "placeholder", "aria-label", "alt", "data-confirm", "data-too-early")
_STATE_KEYS = ("job.status.", "job.business.", "source.state.", "codes.state.")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


class _Reader(HTMLParser):
    """Collects visible text and shown attributes, skipping scripts and other-language parts."""

    def __init__(self, locale: str) -> None:
        super().__init__(convert_charrefs=True)
        self.locale = locale
        self.parts: list[str] = []
        self._stack: list[bool] = []  # per open element: is its content hidden from the check

    def _hidden(self) -> bool:
        return bool(self._stack) and self._stack[-1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        lang = found.get("lang")
        # the language switch names each language in itself: "中文" on an English page
        hidden = self._hidden() or tag in ("script", "style") or (
            lang is not None and lang != self.locale and tag != "html")
        if not hidden:
            self.parts += [str(found[a]) for a in _SHOWN_ATTRS if found.get(a)]
        if tag not in _VOID:
            self._stack.append(hidden)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._hidden() and data.strip():
            self.parts.append(data.strip())


def shown_text(html: str, locale: str) -> str:
    """The page's visible text and shown attributes, one piece a line."""
    reader = _Reader(locale)
    reader.feed(html)
    return "\n".join(reader.parts)


def english_sentences(extra: Iterable[str] = ()) -> set[str]:
    """English text of the console catalogue (placeholder-free pieces) plus ``extra`` texts."""
    zh, en = load_catalog("zh-CN"), load_catalog("en")
    found: set[str] = set()
    for key, text in en.items():
        if text == zh.get(key):
            continue  # language-neutral (units, product names)
        found |= {p.strip(" .,:;") for p in _PLACEHOLDER.split(text) if _WORDS.search(p)}
    found |= {t.strip(" .,:;") for t in extra if _WORDS.search(t)}
    # state names are single words: a zh-CN page shows 运行中, never "Running"
    found |= {text for key, text in en.items() if key.startswith(_STATE_KEYS)}
    return {s for s in found if len(s) >= 6}


def english_in(text: str, sentences: set[str]) -> list[str]:
    """The English sentences that appear in ``text`` as whole words."""
    return sorted(s for s in sentences
                  if re.search(rf"(?<![A-Za-z]){re.escape(s)}(?![A-Za-z])", text))
