"""Typed reads of decoded JSON documents: each names the message and field it refuses."""

from typing import Dict, List, Optional, Sequence, Tuple

from rehost.wire import WireError

Doc = Dict[str, object]
BAD_FRAME = "Wire.BadFrame"  # a control frame on the data port
BAD_MESSAGE = "Protocol.BadMessage"  # an HTTP message (work item, transit-host API)
_MISSING = object()


def bad(where: str, key: str, want_en: str, want_zh: str, code: str) -> WireError:
    """The error for a field of the wrong type (English / Chinese)."""
    return WireError(code, f"{where}: {key!r} must be {want_en}"
                           f" / {where}：{key!r} 必须是{want_zh}")


def as_doc(value: object, where: str, code: str = BAD_MESSAGE) -> Doc:
    """value as a JSON object, else WireError."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise WireError(code, f"{where} must be a JSON object / {where} 必须是 JSON 对象")
    return value


def req_int(doc: Doc, key: str, where: str, code: str = BAD_MESSAGE,
            default: "object" = _MISSING) -> int:
    """A non-negative integer field (booleans are refused)."""
    value = doc.get(key, default)
    if value is None and default is not _MISSING:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad(where, key, "a non-negative integer", "非负整数", code)
    return value


def req_float(doc: Doc, key: str, where: str, code: str = BAD_MESSAGE,
              default: "object" = _MISSING) -> float:
    """A non-negative number field."""
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise bad(where, key, "a non-negative number", "非负数", code)
    return float(value)


def req_str(doc: Doc, key: str, where: str, code: str = BAD_MESSAGE,
            default: "object" = _MISSING) -> str:
    """A string field."""
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise bad(where, key, "a string", "字符串", code)
    return value


def opt_str(doc: Doc, key: str, where: str, code: str = BAD_MESSAGE) -> "Optional[str]":
    """A string field that may be null or absent."""
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise bad(where, key, "a string or null", "字符串或 null", code)
    return value


def req_bool(doc: Doc, key: str, where: str, code: str = BAD_MESSAGE,
             default: "object" = _MISSING) -> bool:
    """A boolean field."""
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise bad(where, key, "true or false", "true 或 false", code)
    return value


def req_list(doc: Doc, key: str, where: str, code: str = BAD_MESSAGE,
             default: "object" = _MISSING) -> "List[object]":
    """A list field."""
    value = doc.get(key, default)
    if not isinstance(value, (list, tuple)):  # tuples: documents built in Python
        raise bad(where, key, "a list", "列表", code)
    return list(value)


def req_docs(doc: Doc, key: str, where: str, code: str = BAD_MESSAGE,
             default: "object" = _MISSING) -> "List[Doc]":
    """A list of JSON objects."""
    items = req_list(doc, key, where, code, default)
    if not all(isinstance(i, dict) for i in items):
        raise bad(where, key, "a list of objects", "对象列表", code)
    return [as_doc(i, where, code) for i in items]


def req_strs(doc: Doc, key: str, where: str, code: str = BAD_MESSAGE,
             default: "object" = _MISSING) -> "Tuple[str, ...]":
    """A list of strings."""
    items = req_list(doc, key, where, code, default)
    if not all(isinstance(i, str) for i in items):
        raise bad(where, key, "a list of strings", "字符串列表", code)
    return tuple(str(i) for i in items)


def req_pairs(doc: Doc, key: str, where: str,
              code: str = BAD_MESSAGE) -> "Tuple[Tuple[int, int], ...]":
    """A list of [a, b] non-negative integer pairs."""
    out = []
    for item in req_list(doc, key, where, code):
        if not (isinstance(item, (list, tuple)) and len(item) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                        for n in item)):
            raise bad(where, key, "a list of [start, length] pairs", "[起点, 长度] 对的列表", code)
        out.append((int(item[0]), int(item[1])))
    return tuple(out)


def pairs_json(pairs: "Sequence[Tuple[int, int]]") -> "List[List[int]]":
    """Pairs as JSON lists."""
    return [[a, b] for a, b in pairs]
