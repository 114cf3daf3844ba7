"""Mount a test's own disk image or device for the duration of a block (root, loop devices)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from diskfactory import run


@contextmanager
def mounted(source: str | Path, where: Path, options: str = "") -> Iterator[Path]:
    """`mount -o options source where` (where created), unmounted after the block."""
    where.mkdir(exist_ok=True)
    run("mount", *(["-o", options] if options else []), source, where)
    try:
        yield where
    finally:
        run("umount", where)
