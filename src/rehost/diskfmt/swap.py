"""Linux swap: only the header page carries data worth sending."""

from typing import List, Tuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.reader import DiskReader, read_exact

Span = Tuple[int, int]
_PAGE_SIZES = (4096, 8192, 16384, 65536)


def swap_header_bytes(disk: DiskReader, offset: int = 0) -> int:
    """Size of the swap header page (the page size of the machine that ran mkswap)."""
    for page in _PAGE_SIZES:
        tail = read_exact(disk, offset + page - 10, 10, "swap header")
        if tail in (b"SWAPSPACE2", b"SWAP-SPACE"):
            return page
    raise DiskFormatError("swap signature not found")


def swap_free_spans(disk: DiskReader, offset: int, size_bytes: int) -> "List[Span]":
    """Everything after the header page: swapped-out pages are of no use on another machine."""
    page = swap_header_bytes(disk, offset)
    return [(page, size_bytes)] if size_bytes > page else []
