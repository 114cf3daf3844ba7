"""ClientToken rules (SMC): ≤ 64 ASCII characters; the same token means the same request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import timedelta

from rehost.domain import errors

TOKEN_MAX = 64
TOKEN_TTL = timedelta(hours=24)


def check_token(token: str) -> str:
    """A valid ClientToken, or InvalidParameter.ClientToken."""
    if not 1 <= len(token) <= TOKEN_MAX or not token.isascii() or not token.isprintable():
        raise errors.invalid(
            "ClientToken",
            f"ClientToken must be 1–{TOKEN_MAX} printable ASCII characters.",
            f"ClientToken 须为 1–{TOKEN_MAX} 个可打印的 ASCII 字符。")
    return token


def params_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """A digest of a request's parameters (order-free, ClientToken itself excluded)."""
    kept = sorted((k, v) for k, v in pairs if k not in ("ClientToken", "client_token"))
    return hashlib.sha256(json.dumps(kept, ensure_ascii=False).encode()).hexdigest()


def mismatch(token: str) -> errors.InvalidParameter:
    """The token was used within 24 h by a request with other parameters."""
    return errors.InvalidParameter(
        "IdempotentParameterMismatch",
        f"ClientToken {token!r} was already used with other parameters in the last 24 hours; "
        "use a new ClientToken for a different request.",
        f"ClientToken {token!r} 在 24 小时内已用于参数不同的请求；"
        "不同的请求请使用新的 ClientToken。")
