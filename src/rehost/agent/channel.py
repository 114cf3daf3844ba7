"""One TLS data connection of the sender: HELLO, then DATA frames within a bounded window."""

import contextlib
import logging
import socket
import ssl
import time
import zlib
from collections.abc import Sequence
from typing import Any

try:  # optional accelerator: the portable agent runs without it
    import zstandard
except ImportError:
    zstandard = None  # type: ignore[assignment]

from rehost import chunkdigest, wire
from rehost.agent.adaptive import LevelTuner
from rehost.agent.reader import Cell, CellReader
from rehost.agent.sendspec import ZSTD_LEVELS, SendError, SendSpec
from rehost.agent.sendstate import ReadChunk, SendState
from rehost.agent.throttle import SLICE_BYTES, TokenBucket
from rehost.protocol.hello import DiskDone, DiskOk, ErrorFrame, Hello, HelloOk
from rehost.protocol.patch import pack_patch_header
from rehost.wire import Codec, FrameType, WireError

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 15.0
ACK_WAIT_S = 0.2
DISK_DONE_TIMEOUT_S = 900.0
MAX_CONTROL_BODY = wire.MAX_CONTROL_BYTES  # HELLO_OK of a delta pass carries cell digests
# payload codecs this agent can send, preferred first (zstd only with the accelerator)
CODECS = (("zstd",) if zstandard is not None else ()) + ("zlib",)


# the calling thread's CPU time (time.thread_time is Python 3.7+; the agent runs on 3.6)
THREAD_CLOCK = getattr(time, "CLOCK_THREAD_CPUTIME_ID", None)


def thread_cpu_s() -> float:
    """CPU seconds the calling thread has used (0.0 where the clock does not exist)."""
    return time.clock_gettime(THREAD_CLOCK) if THREAD_CLOCK is not None else 0.0


def agreed_digest(hello_ok: "HelloOk") -> chunkdigest.ChunkDigest:
    """The chunk digest HELLO_OK names (an older transit names none: xxh3-128)."""
    try:
        return chunkdigest.by_name(hello_ok.digest or chunkdigest.LEGACY)
    except chunkdigest.DigestError as exc:
        raise SendError("Agent.NoDigest", exc.message) from exc


class Channel:
    """Owns one connection at a time; the caller reconnects it after a failure."""

    def __init__(
        self,
        spec: SendSpec,
        ctx: ssl.SSLContext,
        state: SendState,
        *,
        readers: "dict[int, CellReader]",
        bucket: "TokenBucket | None",
        buffer: memoryview,
    ) -> None:
        self.spec = spec
        self._ctx = ctx
        self._state = state
        self._readers = readers
        self._bucket = bucket
        self._buffer = buffer
        self._window = spec.window_chunks_per_connection()
        self._inflight: dict[tuple[int, int], Cell] = {}
        self._sock: ssl.SSLSocket | None = None
        self._reader: wire.FrameReader | None = None
        self._pieces = False  # the transit speaks version 2 (DATA_PIECES)
        self._patches = False  # the transit speaks version 4 (DATA_PATCH)
        self._digest = chunkdigest.by_name(chunkdigest.BLAKE2B_128)  # set by HELLO_OK
        self._compressors: dict[int, Any] = {}  # zstd contexts by level, made when first used
        self._tuner: LevelTuner | None = None  # set by HELLO_OK when compressing
        self.codec_name = "raw"

    def connect(self, hello: "Hello") -> "HelloOk":
        """Open a connection and exchange HELLO; returns the transit's HELLO_OK body."""
        self.close()
        raw = socket.create_connection((self.spec.host, self.spec.port), timeout=CONNECT_TIMEOUT_S)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        name = self.spec.server_hostname or self.spec.host
        try:
            self._sock = self._ctx.wrap_socket(raw, server_hostname=name)
        except BaseException:
            raw.close()
            raise
        self._reader = wire.FrameReader(self._sock, MAX_CONTROL_BODY)
        self._sock.sendall(wire.pack_control(FrameType.HELLO, hello.to_json()))
        frame = self._expect(FrameType.HELLO_OK)
        self._sock.settimeout(ACK_WAIT_S)
        resume = HelloOk.from_json(wire.unpack_control(frame.body))
        self._pieces = resume.wire_version >= wire.PIECES_VERSION
        self._patches = resume.wire_version >= wire.PATCH_VERSION
        self._digest = agreed_digest(resume)
        self._pick_codec(("zstd",) if resume.codecs is None else resume.codecs)
        return resume

    def _pick_codec(self, accepted: "Sequence[str]") -> None:
        """Compress with the first of our codecs the transit decodes (raw when none or off)."""
        level = self.spec.compress_level
        usable = [c for c in CODECS if c in accepted]
        self.codec_name = usable[0] if level and usable else "raw"
        self._tuner = None if self.codec_name == "raw" else LevelTuner(ZSTD_LEVELS[level])
        # changed blocks of an incremental cycle are few and cross the WAN: they keep the
        # job's own level even when the full-cell stream has fallen to raw (a fast link)
        self._patch_level = ZSTD_LEVELS[level] if self._tuner is not None else 0

    def pump(self) -> None:
        """Send until every chunk is acknowledged, a stop is requested or the link fails."""
        while not self._state.should_quit():
            self._drain(block=False)
            if self._state.finished():
                return
            if len(self._inflight) < self._window:
                item = self._state.next_item(0.05 if not self._inflight else 0.0)
                if item is not None:
                    self._send(item)
                    continue
            if self._inflight:
                self._drain(block=True)

    def finish_disk(self, index: int, digest_hex: str) -> None:
        """Tell the transit a disk is complete and wait for its verdict."""
        assert self._sock is not None
        self._sock.settimeout(DISK_DONE_TIMEOUT_S)
        self._sock.sendall(wire.pack_control(FrameType.DISK_DONE,
                                             DiskDone(index, digest_hex).to_json()))
        DiskOk.from_json(wire.unpack_control(self._expect(FrameType.DISK_OK).body))
        self._sock.settimeout(ACK_WAIT_S)

    def abandon(self) -> None:
        """Give in-flight chunks back for another connection and close."""
        self._state.requeue(list(self._inflight.values()), rejected=False)
        self._inflight.clear()
        self.close()

    def close(self) -> None:
        """Close the connection, if any."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock, self._reader = None, None

    def _send(self, item: "ReadChunk | Cell") -> None:
        if isinstance(item, Cell):
            item = self._reread(item)
        try:
            cell = item.cell
            patch = item.patch if self._patches and not item.is_zero else None
            pieces = patch or (cell.pieces if self._pieces and not item.is_zero
                               and _worth_pieces(cell) else None)
            plain = wire.gather_pieces(item.data, pieces) if pieces else item.data
            began, cpu_began = time.monotonic(), thread_cpu_s()
            codec, payload = self._encode(plain, zero=item.is_zero, patch=patch is not None)
            encoded, cpu_s = time.monotonic(), thread_cpu_s() - cpu_began
            head = wire.DataHeader(cell.disk_index, codec, cell.offset_bytes,
                                   cell.length_bytes, cell.plan_bytes, item.digest)
            self._inflight[(cell.disk_index, cell.offset_bytes)] = cell
            header = self._header(head, patch, pieces, len(payload))
            self._write(header)
            self._write(payload)
            if not item.is_zero:
                self._tune(len(plain), encoded - began, time.monotonic() - encoded, cpu_s)
            raw = cell.length_bytes if patch is None else sum(n for _s, n in patch)
            self._state.sent(raw_bytes=raw, wire_bytes=len(header) + len(payload),
                             zero=item.is_zero)
        finally:
            item.release()

    @staticmethod
    def _header(head: wire.DataHeader, patch: "Sequence[tuple[int, int]] | None",
                pieces: "Sequence[tuple[int, int]] | None", payload_bytes: int) -> bytes:
        """DATA_PATCH for changed blocks, DATA_PIECES for a partly planned cell, else DATA."""
        if patch:
            return pack_patch_header(head, patch, payload_bytes)
        if pieces:
            return wire.pack_pieces_header(head, pieces, payload_bytes)
        return wire.pack_data_header(head, payload_bytes)

    def _encode(self, data: "memoryview | bytes", *, zero: bool,
                patch: bool = False) -> "tuple[Codec, memoryview | bytes]":
        if zero:
            return Codec.ZERO, b""
        level = self._tuner.level if self._tuner is not None else 0
        if patch:
            level = max(level, self._patch_level)
        if not level:
            return Codec.RAW, data
        if self.codec_name == "zlib":
            codec, packed = Codec.ZLIB, zlib.compress(data, min(level, 9))
        else:
            if level not in self._compressors:
                self._compressors[level] = zstandard.ZstdCompressor(level=level)
            codec, packed = Codec.ZSTD, self._compressors[level].compress(data)
        return (codec, packed) if len(packed) < len(data) else (Codec.RAW, data)

    def _tune(self, in_bytes: int, compress_s: float, write_s: float, cpu_s: float) -> None:
        """Let the level follow the bottleneck (compressing or writing); log each change."""
        if self._tuner is not None and self._tuner.record(
                in_bytes=in_bytes, compress_s=compress_s, write_s=write_s,
                compress_cpu_s=cpu_s if THREAD_CLOCK is not None else None):
            log.info("adaptive compression: %s level %d", self.codec_name, self._tuner.level)

    def _reread(self, cell: Cell) -> ReadChunk:
        data = self._readers[cell.disk_index].read_cell(cell, self._buffer)
        digest, zero = self._digest.digest_and_zero(data)
        return ReadChunk(cell, data, digest, zero, lambda: None,
                         None if zero else self._state.patch_for(cell, digest))

    def _write(self, data: "memoryview | bytes") -> None:
        assert self._sock is not None
        self._sock.settimeout(None)
        view = memoryview(data)
        if self._bucket is None:
            self._sock.sendall(view)
        else:
            for pos in range(0, len(view), SLICE_BYTES):
                piece = view[pos : pos + SLICE_BYTES]
                self._bucket.consume(len(piece))
                self._sock.sendall(piece)
        self._sock.settimeout(ACK_WAIT_S)

    def _drain(self, *, block: bool) -> None:
        assert self._reader is not None
        while True:
            try:
                frame = self._reader.read() if block else self._reader.poll()
            except TimeoutError:
                return
            if frame is None:
                return
            self._on_frame(frame)
            block = False

    def _on_frame(self, frame: wire.Frame) -> None:
        if frame.type == FrameType.ACK:
            cells = [self._inflight.pop((r.disk_index, r.offset_bytes), None)
                     for r in wire.unpack_ranges(frame.body)]
            self._state.acked([c for c in cells if c is not None])
        elif frame.type == FrameType.NACK:
            r = wire.unpack_nack(frame.body)
            cell = self._inflight.pop((r.disk_index, r.offset_bytes), None)
            if cell is not None:
                self._state.requeue([cell], rejected=True)
        else:
            self._raise_for(frame)

    def _expect(self, ftype: FrameType) -> wire.Frame:
        assert self._reader is not None
        frame = self._reader.read()
        if frame.type != ftype:
            self._raise_for(frame)
        return frame

    @staticmethod
    def _raise_for(frame: wire.Frame) -> None:
        if frame.type == FrameType.ERROR:
            err = ErrorFrame.from_json(wire.unpack_control(frame.body))
            raise SendError(err.code, err.message)
        raise WireError("Wire.BadFrame", f"unexpected {frame.type.name} frame")


def _worth_pieces(cell: Cell) -> bool:
    """Whether sending only the planned pieces saves more than their table costs."""
    table_bytes = wire.PIECE_COUNT.size + 8 * len(cell.pieces)
    return cell.length_bytes - cell.plan_bytes > table_bytes
