"""Paging parameters of every describe/list call."""

from __future__ import annotations

from rehost.domain.errors import invalid

PAGE_NUMBER_MAX = 1_000_000  # beyond it the row offset overflows 64-bit database integers
PAGE_SIZE_MAX = 100


def check_page(page_number: int, page_size: int, *, max_size: int = PAGE_SIZE_MAX) -> None:
    """Refuse a page number outside 1–1,000,000 or a page size outside 1–max_size."""
    if not 1 <= page_number <= PAGE_NUMBER_MAX:
        raise invalid(
            "PageNumber",
            f"page_number must be 1–{PAGE_NUMBER_MAX} (got {page_number}).",
            f"页码须为 1–{PAGE_NUMBER_MAX}（当前 {page_number}）。",
        )
    if not 1 <= page_size <= max_size:
        raise invalid(
            "PageSize",
            f"page_size must be 1–{max_size} (got {page_size}).",
            f"每页条数须为 1–{max_size}（当前 {page_size}）。",
        )
