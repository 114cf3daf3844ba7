"""send_job: stream a job's disks to its transit over several TLS connections, resumably."""

import bisect
import contextlib
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Tuple

from rehost import chunkdigest, wire
from rehost.agent.blockdigests import PROCESS_BLOCKS, BlockDigests
from rehost.agent.catchup import CatchUpSource, catch_up
from rehost.agent.channel import CODECS, Channel, agreed_digest
from rehost.agent.delta import DeltaBase, PatchPlanner, delta_bases, zero_chunk
from rehost.agent.reader import (
    Cell,
    CellReader,
    Planner,
    aligned_buffer,
    default_planner,
    plan_cells,
    plan_notes,
)
from rehost.agent.sendspec import SendError, SendProgress, SendResult, SendSpec
from rehost.agent.sendstate import ReadChunk, SendState
from rehost.agent.throttle import bucket_for
from rehost.agent.tls import offer_route, pinned_client_context
from rehost.protocol.hello import DiskOffer, DiskResume, Hello, HelloOk
from rehost.wire import WireError

log = logging.getLogger(__name__)
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def send_job(
    spec: SendSpec,
    *,
    progress: "Callable[[SendProgress], None] | None" = None,
    stop: "threading.Event | None" = None,
    planner: Planner = default_planner,
    blocks: "BlockDigests | None" = None,
    live: "CatchUpSource | None" = None,
    notes: "dict[int, list[str]] | None" = None,
) -> SendResult:
    """Send every disk of spec; resumes from the transit's durable state; raises SendError.

    blocks: the block digests an incremental job keeps between cycles (default: the process's).
    live: a live copy whose frozen volumes get a final catch-up pass before the disks are
    finished; notes: extra job-log lines per disk (how each mounted volume is protected).
    """
    started = time.monotonic()
    stop = stop or threading.Event()
    plans = {d.index: list(plan_cells(d.index, planner(str(d.path)), size_bytes=d.size_bytes,
                                      chunk_bytes=spec.chunk_bytes)) for d in spec.disks}
    hello = _hello(spec, plans, notes or {})
    readers = {d.index: CellReader(d.path, direct_io=spec.direct_io) for d in spec.disks}
    ctx = pinned_client_context(spec.ca_pem)
    offer_route(ctx, spec.token)
    buffers = [aligned_buffer(spec.chunk_bytes) for _ in range(2 * spec.connections + 2)]
    try:
        first = Channel(spec, ctx, _NULL_STATE, readers=readers, bucket=None, buffer=buffers[0][1])
        resume = _connect_with_backoff(first, hello, spec, stop)
        first.close()
        algo = agreed_digest(resume)
        log.info("data plane: digest %s, codec %s", algo.name, first.codec_name)
        totals = {i: sum(c.plan_bytes for c in cells) for i, cells in plans.items()}
        state = SendState(totals=totals,
                          resumed={d.index: d.done_bytes for d in resume.disks},
                          queue_chunks=spec.connections + 2, progress=progress, stop=stop)
        bases = delta_bases(resume, {d.index: d.size_bytes for d in spec.disks},
                            spec.chunk_bytes, algo)
        planners = _patch_planners(spec, resume, bases, algo, blocks or PROCESS_BLOCKS)
        digests = _run(spec, ctx, state, plans, resume, readers, buffers, hello, algo,
                       (bases, planners))
        if state.error is not None:
            raise state.error
        if not stop.is_set() and live is not None and live.freeze_points():
            def run_pass(st: SendState, pl: "dict[int, list[Cell]]", rs: "HelloOk",
                         bs: "dict[int, DeltaBase]") -> object:
                return _run(spec, ctx, st, pl, rs, readers, buffers, hello, algo, (bs, None))
            digests.update(catch_up(live, first=state, spec=spec, resume=resume,
                                    planner=planner, algo=algo, run_pass=run_pass))
        completed = not stop.is_set()
        if completed:
            _finish_disks(spec, ctx, state, digests, readers, buffers[0][1], hello)
        state.report(force=True)
        return SendResult(completed, state.raw_bytes, state.wire_bytes, state.chunks,
                          state.zero_chunks, sum(d.done_bytes for d in resume.disks),
                          state.reconnects, time.monotonic() - started, digests)
    finally:
        for r in readers.values():
            r.close()
        for view_map, view in buffers:
            # chunks still queued after a failure may hold slices; then the GC frees it later
            with contextlib.suppress(BufferError):
                view.release()
                view_map.close()


def _patch_planners(spec: SendSpec, resume: "HelloOk", bases: "dict[int, DeltaBase] | None",
                    algo: chunkdigest.ChunkDigest,
                    blocks: BlockDigests) -> "dict[int, PatchPlanner] | None":
    """Per-disk block-digest keepers of an incremental job (None for a one-off job)."""
    if spec.cycle <= 0:
        return None
    keys = {d.index: (d.index, str(d.path), d.size_bytes) for d in spec.disks}
    blocks.keep_only(list(keys.values()))
    patches = resume.wire_version >= wire.PATCH_VERSION
    return {i: PatchPlanner(blocks.disk(key, algo.name),
                            bases.get(i) if bases is not None else None, patches=patches)
            for i, key in keys.items()}


Deltas = Tuple["dict[int, DeltaBase] | None", "dict[int, PatchPlanner] | None"]
NO_DELTA: Deltas = (None, None)


def _run(spec: SendSpec, ctx: Any, state: SendState, plans: "dict[int, list[Cell]]",
         resume: "HelloOk", readers: "dict[int, CellReader]",
         buffers: "list[Any]", hello: "Hello", algo: chunkdigest.ChunkDigest,
         deltas: Deltas = NO_DELTA) -> "dict[int, str]":
    """Run the reader thread and one thread per connection until done, stopped or failed."""
    bucket = bucket_for(spec.bandwidth_limit_kbps)
    pool: queue.Queue[memoryview] = queue.Queue()
    for _m, view in buffers[spec.connections:]:
        pool.put(view)
    digests: dict[int, str] = {}
    reader = threading.Thread(target=_produce, name="rehost-reader", daemon=True,
                              args=(state, plans, resume, readers, pool, digests, algo, deltas))
    channels = [Channel(spec, ctx, state, readers=readers, bucket=bucket, buffer=buffers[i][1])
                for i in range(spec.connections)]
    threads = [threading.Thread(target=_drive, args=(ch, hello, spec, state), daemon=True,
                                name=f"rehost-send-{i}") for i, ch in enumerate(channels)]
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader.join()
    return digests


def _produce(state: SendState, plans: "dict[int, list[Cell]]", resume: "HelloOk",
             readers: "dict[int, CellReader]", pool: "queue.Queue[memoryview]",
             digests: "dict[int, str]", algo: chunkdigest.ChunkDigest,
             deltas: Deltas = NO_DELTA) -> None:
    """Reader thread: read planned cells not yet durable; compute each disk's digest."""
    bases, planners = deltas
    try:
        for disk in resume.pending():
            base = bases.get(disk.index) if bases is not None else None
            patcher = planners.get(disk.index) if planners is not None else None
            digests[disk.index] = _produce_disk(state, plans[disk.index], disk, readers[disk.index],
                                                pool, checksum=resume.checksum, algo=algo,
                                                base=base, patcher=patcher)
            if state.should_quit():
                return
    except OSError as exc:
        state.fail(SendError("Agent.ReadError", f"cannot read the source disk: {exc}"
                                                f" / 读取源磁盘失败：{exc}"))
    finally:
        state.reader_finished()


def _produce_disk(state: SendState, cells: "list[Cell]", disk: "DiskResume",
                  reader: CellReader, pool: "queue.Queue[memoryview]", *, checksum: bool,
                  algo: chunkdigest.ChunkDigest, base: "DeltaBase | None" = None,
                  patcher: "PatchPlanner | None" = None) -> str:
    total = algo.hasher()
    acked = disk.acked
    starts = [a[0] for a in acked]
    for cell in cells:
        if state.should_quit():
            break
        durable = _covered(starts, acked, cell)
        if durable and not checksum:
            continue
        buf = _take_buffer(state, pool)
        if buf is None:
            break
        data = reader.read_cell(cell, buf)
        digest, zero = algo.digest_and_zero(data)
        state.saw(cell, digest, zero=zero)
        if not zero:
            total.update(wire.disk_digest_record(cell.offset_bytes, digest))
        same = durable or (base is not None and base.unchanged(cell, digest))
        patch = None if patcher is None else patcher.plan(cell, data, digest, zero=zero,
                                                          changed=not same)
        if same:
            pool.put(buf)
            if not durable:
                state.unchanged(cell)
            continue
        state.produced(ReadChunk(cell, data, digest, zero, functools.partial(pool.put, buf),
                                 patch))
    if base is not None:
        _produce_freed(state, base, cells, starts, acked)
    return total.hexdigest() if checksum else ""


def _produce_freed(state: SendState, base: DeltaBase, cells: "list[Cell]", starts: "list[int]",
                   acked: "Sequence[tuple[int, int]]") -> None:
    """Queue zero chunks for cells the target holds but the plan no longer has."""
    for cell in base.freed_cells(c.offset_bytes for c in cells):
        if state.should_quit():
            return
        if not _covered(starts, acked, cell):
            state.produced(zero_chunk(cell, base.algo))


def _take_buffer(state: SendState, pool: "queue.Queue[memoryview]") -> "memoryview | None":
    while not state.should_quit():
        try:
            return pool.get(timeout=0.1)
        except queue.Empty:
            continue
    return None


def _covered(starts: "list[int]", acked: "Sequence[tuple[int, int]]", cell: Cell) -> bool:
    i = bisect.bisect_right(starts, cell.offset_bytes) - 1
    if i < 0:
        return False
    start, length = acked[i]
    return start + length >= cell.offset_bytes + cell.length_bytes


def _drive(ch: Channel, hello: "Hello", spec: SendSpec, state: SendState) -> None:
    """Connection thread: (re)connect and pump until finished; record fatal errors."""
    try:
        while not state.should_quit():
            try:
                _connect_with_backoff(ch, hello, spec, state.stop)
                ch.pump()
                if state.finished():
                    return
            except (OSError, WireError) as exc:
                log.info("data connection lost: %s; reconnecting", exc)
                state.reconnects += 1
            finally:
                ch.abandon()
    except SendError as exc:
        state.fail(exc)


def _connect_with_backoff(ch: Channel, hello: "Hello", spec: SendSpec,
                          stop: threading.Event) -> "HelloOk":
    deadline = time.monotonic() + spec.reconnect_timeout_s
    attempt = 0
    while True:
        try:
            return ch.connect(hello)
        except (OSError, WireError) as exc:
            if time.monotonic() > deadline or stop.is_set():
                raise SendError("Agent.TransitUnreachable",
                                f"cannot reach the transit: {exc} / 无法连接中转实例") from exc
            stop.wait(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1


def _finish_disks(spec: SendSpec, ctx: Any, state: SendState, digests: "dict[int, str]",
                  readers: "dict[int, CellReader]", buf: memoryview, hello: "Hello") -> None:
    """DISK_DONE for every disk the transit does not count done yet; a connection lost on the
    way (a transit killed before its DISK_OK) is opened again, and the new HELLO_OK says
    which disks are still to finish (none: the transit reports the sync done on HELLO)."""
    ch = Channel(spec, ctx, state, readers=readers, bucket=None, buffer=buf)
    deadline = time.monotonic() + spec.reconnect_timeout_s
    try:
        while True:
            resume = _connect_with_backoff(ch, hello, spec, state.stop)
            try:
                for disk in resume.pending():
                    ch.finish_disk(disk.index, digests.get(disk.index, ""))
                return
            except (OSError, WireError) as exc:
                if time.monotonic() > deadline or state.stop.is_set():
                    raise
                log.info("data connection lost while finishing the disks: %s; reconnecting",
                         exc)
                state.reconnects += 1
                state.stop.wait(BACKOFF_S[0])
    finally:
        ch.close()


def _hello(spec: SendSpec, plans: "dict[int, list[Cell]]",
           notes: "dict[int, list[str]]") -> "Hello":
    disks = tuple(DiskOffer(d.index, d.size_bytes, sum(c.plan_bytes for c in plans[d.index]),
                            (*notes.get(d.index, ()), *plan_notes(str(d.path))))
                  for d in spec.disks)
    # an incremental job: the transit may run a delta pass (version 3)
    delta = spec.cycle > 0
    return Hello(token=spec.token, chunk_bytes=spec.chunk_bytes, disks=disks,
                 agent_id=spec.agent_id,
                 wire_version=wire.PATCH_VERSION if delta else wire.PIECES_VERSION,
                 cycle=spec.cycle if delta else 0,
                 digests=tuple(chunkdigest.available()), codecs=tuple(CODECS))


_NULL_STATE = SendState(totals={}, resumed={}, queue_chunks=1, progress=None,
                        stop=threading.Event())
