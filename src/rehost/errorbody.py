"""The API's JSON error document read back by a client (stdlib only: the agent uses it too)."""

import json
from typing import Any, Dict, NamedTuple


class ErrorFields(NamedTuple):
    """What a refused request says: code, message and request id ("" when not given)."""

    code: str
    message: str
    request_id: str


def error_fields(raw: bytes, *, status: int, reason: str) -> ErrorFields:
    """Code and message of an error body; FastAPI's {"detail": {...}} unwrapped, HTTP<n> if none."""
    try:
        body: Any = json.loads(raw.decode("utf-8"))
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail")
    if isinstance(detail, dict):  # FastAPI wraps HTTPException payloads in "detail"
        body = detail
    doc: Dict[str, Any] = body
    return ErrorFields(str(doc.get("code") or f"HTTP{status}"),
                       str(doc.get("message") or detail or reason),
                       str(doc.get("request_id") or ""))
