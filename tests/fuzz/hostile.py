"""Hostile values for fuzzing the API edges, and the invariants every answer must keep."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from hypothesis import strategies as st
from sqlalchemy import func, select

from rehost.db.tables import (
    ActivationCodeRow,
    ImageRow,
    JobRow,
    RegionRow,
    SourceRow,
    TransitSlotRow,
)
from rehost.services.context import ServiceContext

# REST codes are SMC-style: Word(.Word)* (InvalidParameter.Name, InvalidJobId.NotFound, …)
CODE = re.compile(r"^[A-Z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$")

EDGE_TEXT = [
    "", " ", "\x00", "a\x00b", "名字测试", "中文名称-1", "😀" * 3, "a" * 129, "x" * 70_000,
    "http://x", "../../etc/passwd", "%00", "%", "_", "'; DROP TABLE jobs; --", "\u202e", "\ufeff",
    "\ud800", "null", "1e400", "-0", "NaN", "2026-13-01T00:00:00Z",
]
EDGE_INT = [0, -1, 1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30, 16, 17, 1000, 1001]
EDGE_TIME = [
    "2026-06-01T12:30:00Z", "2026-06-01T12:30:00", "2026-06-01T12:30:00+14:00",
    "2026-06-01T12:30:00-12:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00",
    "2026-02-30T00:00:00Z", "2026-06-01T25:00:00Z", "2026-06-01T12:00:00+25:00", "tomorrow",
    "2026-07-01T00:00:00Z", "2026-06-20T12:00:00Z", 1_800_000_000, -1, 1e308,
]


def scalars() -> st.SearchStrategy[Any]:
    """Any JSON scalar, biased to edge values."""
    return st.one_of(
        st.sampled_from(EDGE_TEXT), st.sampled_from(EDGE_INT), st.sampled_from(EDGE_TIME),
        st.text(max_size=40), st.integers(), st.floats(allow_nan=False), st.booleans(),
        st.none(),
    )


def values() -> st.SearchStrategy[Any]:
    """Scalars, lists and small objects (wrong types for every field)."""
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                st.dictionaries(st.text(max_size=8), inner, max_size=3)),
        max_leaves=8,
    )


def data_disks() -> st.SearchStrategy[Any]:
    """data_disks lists: duplicate, missing, out-of-range, wrongly typed entries."""
    entry = st.fixed_dictionaries(
        {}, optional={"index": st.one_of(st.integers(-2, 18), st.sampled_from(EDGE_INT), values()),
                      "size": st.one_of(st.integers(-2, 40), st.sampled_from(EDGE_INT), values())})
    return st.one_of(st.lists(entry, max_size=4), values())


def body_of(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with any subset of `fields` (plus unknown keys now and then)."""
    return st.fixed_dictionaries(
        {}, optional={**fields, "bogus_field": values(), "\x00": values()})


def encode(body: Any) -> bytes:
    """JSON with escapes (lone surrogates and NUL travel as \\u escapes)."""
    return json.dumps(body, ensure_ascii=True).encode()


def assert_error_shape(response: httpx.Response) -> dict[str, Any]:
    """No 5xx; a refusal is `{"code","message","request_id"}` with a meaningful code."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    document = response.json()
    if response.status_code >= 400:
        assert {"code", "message", "request_id"} <= set(document), document
        assert CODE.match(document["code"]), document
        assert document["code"] not in ("HttpError", "InternalError"), document
        assert len(document["message"]) > 10 and document["request_id"], document
    return dict(document) if isinstance(document, dict) else {"value": document}


TABLES = (JobRow, SourceRow, RegionRow, ActivationCodeRow, ImageRow, TransitSlotRow)


def counts(ctx: ServiceContext) -> dict[str, int]:
    """Row counts of every resource table (to prove nothing was half-created)."""
    with ctx.db.read() as session:
        return {t.__tablename__: int(session.scalar(select(func.count()).select_from(t)) or 0)
                for t in TABLES}
