"""Byte ranges on a disk and the set operations the send plan needs."""

from collections.abc import Iterable
from typing import NamedTuple

ALIGN_BYTES = 4096


class Extent(NamedTuple):
    """A half-open byte range [offset_bytes, offset_bytes + length_bytes)."""

    offset_bytes: int
    length_bytes: int

    @property
    def end_bytes(self) -> int:
        """First byte after the range."""
        return self.offset_bytes + self.length_bytes


Span = tuple[int, int]  # (start, end), half-open; the internal working form


def normalize(spans: "Iterable[Span]") -> "list[Span]":
    """Sort spans, drop empty ones and merge overlapping or touching ones."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(base: "list[Span]", holes: "list[Span]") -> "list[Span]":
    """Return normalized `base` minus normalized `holes`."""
    out: list[Span] = []
    j = 0
    for start, end in base:
        cur = start
        while j < len(holes) and holes[j][1] <= cur:
            j += 1
        k = j
        while k < len(holes) and holes[k][0] < end:
            if holes[k][0] > cur:
                out.append((cur, holes[k][0]))
            cur = max(cur, holes[k][1])
            k += 1
        if cur < end:
            out.append((cur, end))
    return out


def intersect(a: "list[Span]", b: "list[Span]") -> "list[Span]":
    """Return the intersection of two normalized span lists."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def align_outward(spans: "list[Span]", *, align: int = ALIGN_BYTES, limit: int) -> "list[Span]":
    """Round every span outward to `align` (clipped at `limit`) and merge again."""
    return normalize(
        (s - s % align, min(limit, -(-e // align) * align)) for s, e in spans
    )


def to_extents(spans: "list[Span]") -> "list[Extent]":
    """Convert normalized spans into Extent values."""
    return [Extent(offset_bytes=s, length_bytes=e - s) for s, e in spans]


def total_bytes(spans: "Iterable[Span]") -> int:
    """Sum of the lengths of the spans."""
    return sum(e - s for s, e in spans)
