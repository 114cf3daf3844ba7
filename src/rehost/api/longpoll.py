"""Long polls: answer when the document changes, or when the wait is over.

The document is re-read (in the thread pool, it touches the database) whenever this process
commits a write, and at least every RECHECK_S for the writes of other replicas; between reads
the request only sleeps on the event loop, so a thousand waiting agents hold no thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from rehost.db.engine import CommitCounter
from rehost.protocol.etag import etag_of

RECHECK_S = 1.0  # re-read at least this often (writes of other replicas)
TICK_S = 0.05  # how often a waiting poll looks at the commit counter


@dataclass(frozen=True, slots=True)
class Answer:
    """The document and its ETag."""

    doc: dict[str, object]  # a JSON object (`to_json()` of a protocol message)
    etag: str


async def wait_for_change(read: Callable[[], dict[str, object]], *, known: str, wait_s: float,
                          commits: CommitCounter,
                          gone: Callable[[], Awaitable[bool]]) -> Answer:
    """Read; while the answer's ETag is `known` and wait_s is not over, wait and read again."""
    deadline = time.monotonic() + wait_s
    while True:
        seen = commits.value
        doc = await run_in_threadpool(read)
        answer = Answer(doc, etag_of(doc))
        if answer.etag != known or time.monotonic() >= deadline:
            return answer
        if not await _next_change(commits, seen, min(deadline, time.monotonic() + RECHECK_S),
                                  gone):
            return answer  # the agent hung up: nobody reads the answer


async def _next_change(commits: CommitCounter, seen: int, until: float,
                       gone: Callable[[], Awaitable[bool]]) -> bool:
    """Sleep until a commit after `seen` or `until`; False when the client disconnected."""
    while commits.value == seen and time.monotonic() < until:
        await asyncio.sleep(TICK_S)
        if await gone():
            return False
    return True
