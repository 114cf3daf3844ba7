"""The final catch-up pass of a live copy: with the volumes frozen, send what changed.

After the first (live) pass, the volumes that have no snapshot are frozen (FIFREEZE flushes
them to the disk), their ranges are planned and read again, and only the cells whose digest
differs from what the first pass sent (or that the plan no longer has) go to the transit.
The freeze is bounded: past the limit the watchdog thaws, the pass stops and runs once more
(it has less to send then); after that the job fails with Agent.FreezeLimit.
"""

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from rehost import chunkdigest, wire
from rehost.agent.delta import DeltaBase
from rehost.agent.freeze import Freezer, frozen
from rehost.agent.reader import Cell, Planner, plan_cells
from rehost.agent.sendspec import SendError, SendSpec
from rehost.agent.sendstate import SendState
from rehost.protocol.hello import DiskResume, HelloOk

if TYPE_CHECKING:  # typing.Protocol is Python 3.8+; the agent runs on 3.6
    from typing import Protocol  # novermin: type checking only
else:
    Protocol = object

log = logging.getLogger(__name__)
CATCH_UP_ATTEMPTS = 2
UNKNOWN = b"\0unknown"  # never a digest: a cell whose state on the target is not known
Ranges = Optional[List[Tuple[int, int]]]
Digests = Dict[int, Dict[int, bytes]]
RunPass = Callable[[SendState, "dict[int, list[Cell]]", HelloOk, "dict[int, DeltaBase]"], object]


class CatchUpSource(Protocol):
    """What the pass needs of the live copy (LiveCopy fits)."""

    @property
    def freezer(self) -> Freezer: ...
    @property
    def freeze_limit_s(self) -> float: ...
    def freeze_points(self) -> "List[str]": ...
    def catch_up_ranges(self, index: int) -> Ranges: ...


def catch_up(live: CatchUpSource, *, first: SendState, spec: SendSpec, resume: HelloOk,
             planner: Planner, algo: chunkdigest.ChunkDigest, run_pass: RunPass
             ) -> "dict[int, str]":
    """Run the pass (retried once past the freeze limit); the disks' digests afterwards."""
    known = {i: dict(cells) for i, cells in first.seen.items()}
    for attempt in range(1, CATCH_UP_ATTEMPTS + 1):
        if _attempt(live, known, spec=spec, resume=resume, planner=planner, algo=algo,
                    run_pass=run_pass, stop=first.stop):
            log.info("catch-up pass under fsfreeze done (attempt %d)", attempt)
            indexes = [d.index for d in resume.pending()]
            return disk_digests(known, indexes, algo) if resume.checksum else {}
        if first.stop.is_set():
            return {}
        log.warning("catch-up pass %d ran past the freeze limit of %g s", attempt,
                    live.freeze_limit_s)
    raise SendError("Agent.FreezeLimit",
                    f"the final pass under fsfreeze did not finish within "
                    f"{live.freeze_limit_s:g} s: raise --freeze-limit, lower the write load "
                    f"or give the VG free extents for an LVM snapshot / 冻结文件系统后的最终"
                    f"同步未在 {live.freeze_limit_s:g} 秒内完成：请增大 --freeze-limit、"
                    f"降低写入负载，或为卷组留出空闲空间以使用 LVM 快照")


def _attempt(live: CatchUpSource, known: Digests, *, spec: SendSpec, resume: HelloOk,
             planner: Planner, algo: chunkdigest.ChunkDigest, run_pass: RunPass,
             stop: threading.Event) -> bool:
    """One pass; merges what it read into `known`; True when it finished in the limit."""
    halt = threading.Event()
    if stop.is_set():
        return False
    pending = [d for d in spec.disks if d.index in {r.index for r in resume.pending()}]
    with frozen(live.freeze_points(), freezer=live.freezer, limit_s=live.freeze_limit_s,
                on_expire=halt.set) as guard:
        plans, bases = {}, {}
        for disk in pending:
            drop_cache(disk.path)  # pages read before the freeze may be stale (XFS metadata)
            ranges = live.catch_up_ranges(disk.index)
            cells = plan_cells(disk.index, planner(str(disk.path)), size_bytes=disk.size_bytes,
                               chunk_bytes=spec.chunk_bytes)
            plans[disk.index] = [c for c in cells if overlaps(c.offset_bytes,
                                                              c.length_bytes, ranges)]
            old = {o: d for o, d in known.get(disk.index, {}).items()
                   if overlaps(o, spec.chunk_bytes, ranges)}
            bases[disk.index] = DeltaBase(disk.index, disk.size_bytes, spec.chunk_bytes, old,
                                          algo)
        state = SendState(totals={i: sum(c.plan_bytes for c in p) for i, p in plans.items()},
                          resumed={}, queue_chunks=spec.connections + 2, progress=None,
                          stop=halt)
        fresh = resume._replace(checksum=False, delta=False, disks=tuple(
            DiskResume(i, (), False, 0) for i in plans))
        run_pass(state, plans, fresh, bases)
        done = state.finished() and not guard.expired.is_set()
    if state.error is not None:
        raise state.error
    _merge(known, plans, bases, state.seen, done=done)
    return done


def _merge(known: Digests, plans: "dict[int, list[Cell]]", bases: "dict[int, DeltaBase]",
           seen: Digests, *, done: bool) -> None:
    """The catch-up cells replace the first pass's; an unfinished pass leaves them unknown."""
    for index, cells in plans.items():
        disk = known.setdefault(index, {})
        for offset in bases[index].digests:
            disk.pop(offset, None)
        if done:
            disk.update(seen.get(index, {}))
            continue
        for offset in {c.offset_bytes for c in cells} | set(bases[index].digests):
            disk[offset] = UNKNOWN


def overlaps(offset: int, length: int, ranges: Ranges) -> bool:
    """Whether [offset, offset + length) meets one of the ranges (None: everything)."""
    if ranges is None:
        return True
    return any(start < offset + length and offset < start + size for start, size in ranges)


def disk_digests(known: Digests, indexes: "Iterable[int]",
                 algo: chunkdigest.ChunkDigest) -> "dict[int, str]":
    """Each disk's digest over its non-zero cells, as the transit computes it."""
    out = {}
    for index in indexes:
        cells = known.get(index, {})
        total = algo.hasher()
        for offset in sorted(cells):
            total.update(wire.disk_digest_record(offset, cells[offset]))
        out[index] = total.hexdigest()
    return out


def drop_cache(path: Path) -> None:
    """Drop the clean cached pages of a disk so that the next reads come from the device."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)

