"""Parser of LVM2's text metadata format (the volume group description in a PV's metadata area)."""

import re
from typing import Any, Dict, List, Tuple

from rehost.diskfmt.errors import DiskFormatError

_TOKEN = re.compile(
    r'\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|[A-Za-z0-9_.+\-]+|[={}\[\],]', re.S
)
_MAX_DEPTH = 16


def _tokens(text: str) -> "List[str]":
    """Split metadata text into tokens; whitespace and comments dropped."""
    out: List[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise DiskFormatError(f"LVM metadata: unexpected character at offset {pos}")
        tok = m.group(0)
        pos = m.end()
        if not tok[0].isspace() and tok[0] != "#":
            out.append(tok)
    return out


class _Parser:
    """Recursive descent over the token list."""

    def __init__(self, tokens: "List[str]") -> None:
        self.tokens = tokens
        self.pos = 0

    def next(self) -> str:
        if self.pos >= len(self.tokens):
            raise DiskFormatError("LVM metadata: text ends inside a section")
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def section(self, depth: int, *, top: bool) -> "Dict[str, Any]":
        if depth > _MAX_DEPTH:
            raise DiskFormatError("LVM metadata: sections nested too deep")
        out: Dict[str, Any] = {}
        while True:
            if top and self.pos >= len(self.tokens):
                return out
            name = self.next()
            if name == "}" and not top:
                return out
            sep = self.next()
            if sep == "{":
                out[name] = self.section(depth + 1, top=False)
            elif sep == "=":
                out[name] = self.value()
            else:
                raise DiskFormatError(f"LVM metadata: expected '=' or '{{' after {name!r}")

    def value(self) -> Any:
        tok = self.next()
        if tok == "[":
            items: List[Any] = []
            while True:
                tok = self.next()
                if tok == "]":
                    return items
                if tok == ",":
                    continue
                items.append(_scalar(tok))
        return _scalar(tok)


def _scalar(tok: str) -> Any:
    """A string, integer or float token as a Python value."""
    if tok.startswith('"'):
        return re.sub(r"\\(.)", r"\1", tok[1:-1])
    try:
        return int(tok)
    except ValueError:
        pass
    try:
        return float(tok)
    except ValueError:
        raise DiskFormatError(f"LVM metadata: bad value {tok!r}") from None


def parse_metadata(text: str) -> "Dict[str, Any]":
    """Parse LVM2 text metadata into nested dicts (sections) and values."""
    return _Parser(_tokens(text)).section(0, top=True)


def vg_section(config: "Dict[str, Any]") -> "Tuple[str, Dict[str, Any]]":
    """The single volume group section of a parsed metadata text, with its name."""
    groups = [(k, v) for k, v in config.items() if isinstance(v, dict)]
    if len(groups) != 1:
        raise DiskFormatError(f"LVM metadata: expected one volume group, found {len(groups)}")
    return groups[0]
