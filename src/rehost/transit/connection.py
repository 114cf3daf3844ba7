"""One agent data connection on the transit: HELLO, then DATA with group-committed ACKs."""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import time
import zlib
from collections.abc import Callable

import zstandard

from rehost import wire
from rehost.protocol import patch
from rehost.protocol.hello import DiskDone, DiskOk, Hello
from rehost.transit.errors import TransitError
from rehost.transit.frames import check_chunk, check_hello
from rehost.transit.journal import ChunkRecord
from rehost.transit.limits import PREAUTH_FRAME_BYTES
from rehost.transit.session import JobSession
from rehost.transit.writer import ChunkWriter, StagedChunk
from rehost.wire import ChunkRange, Codec, FrameType, WireError

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 300.0
LINGER_S = 1.0
LINGER_MAX_BYTES = 1024 * 1024

MAX_FRAME_BODY_BYTES = wire.DATA_HEADER.size + wire.MAX_PAYLOAD_BYTES
INTERNAL_MESSAGE = ("the transit failed unexpectedly; start the job again"
                    " / 中转实例发生意外错误，请重新启动任务")

SessionOpener = Callable[[str], JobSession | None]


class DataConnection:
    """Serves one TLS connection until the peer leaves or an error ends it."""

    def __init__(self, sock: ssl.SSLSocket, open_session: SessionOpener, *,
                 preauth_frame_bytes: int = PREAUTH_FRAME_BYTES) -> None:
        self.sock = sock
        self._open_session = open_session
        self._reader = wire.FrameReader(sock, MAX_FRAME_BODY_BYTES)
        # until a valid HELLO only a small frame is read: the buffer's pages stay untouched
        self._reader.limit(preauth_frame_bytes)
        self._dctx = zstandard.ZstdDecompressor()
        self._writer: ChunkWriter | None = None
        self.session: JobSession | None = None
        self.on_session: Callable[[JobSession], None] = lambda _s: None

    def serve(self) -> None:
        """Run the connection; never raises."""
        try:
            self._run()
        except TransitError as exc:
            log.warning("transit job failed: %s", exc)
            if self.session is not None:
                self.session.fail(exc)
            self._send_quietly(wire.pack_error(exc.code, exc.message))
        except WireError as exc:
            log.info("data connection protocol error: %s", exc)
            if exc.code != "Wire.Closed":
                self._send_quietly(wire.pack_error(exc.code, exc.message))
        except OSError as exc:
            log.info("data connection dropped: %s", exc)
        except Exception:  # a bug must not kill the thread silently nor leave the peer waiting
            log.exception("data connection failed unexpectedly")
            self._send_quietly(wire.pack_error("Transit.InternalError", INTERNAL_MESSAGE))
        finally:
            self._close()

    def _run(self) -> None:
        session = self._handshake()
        self._reader.limit(MAX_FRAME_BODY_BYTES)
        self._writer = writer = ChunkWriter(session)
        self.sock.settimeout(IDLE_TIMEOUT_S)
        while True:
            self._send_results(writer)
            if not self._input_waiting():
                writer.commit_soon()  # the agent paused: make what arrived durable now
                if not self._wait_input(writer):
                    continue
            kind, length = self._reader.read_start(wire.DATA_HEADER.size)
            if kind == FrameType.DATA and self._on_raw_data(session, writer, length):
                continue
            frame = self._reader.read()
            if frame.type in (FrameType.DATA, FrameType.DATA_PIECES):
                self._on_data(session, writer, frame)
            elif frame.type == FrameType.DATA_PATCH:
                self._on_patch(session, writer, frame)
            elif frame.type == FrameType.DISK_DONE:
                writer.flush()
                self._send_results(writer)
                self._on_disk_done(session, DiskDone.from_json(wire.unpack_control(frame.body)))
            else:
                raise WireError("Wire.BadFrame", f"unexpected {frame.type.name} frame")

    def _handshake(self) -> JobSession:
        frame = self._reader.read()
        if frame.type != FrameType.HELLO:
            raise WireError("Wire.BadFrame", "the first frame must be HELLO")
        hello = Hello.from_json(wire.unpack_control(frame.body))
        check_hello(hello)
        session = self._open_session(hello.token)
        if session is None:
            raise WireError("Transit.InvalidToken", "unknown or inactive job data token")
        self.session = session
        self.on_session(session)
        state = session.hello(hello)
        self.sock.sendall(wire.pack_control(FrameType.HELLO_OK, state.to_json()))
        if not state.pending():
            session.maybe_sync_done()
        return session

    def _on_data(self, session: JobSession, writer: ChunkWriter, frame: wire.Frame) -> None:
        if frame.type == FrameType.DATA_PIECES:
            head, pieces, payload = wire.unpack_pieces(frame.body)
        else:
            (head, payload), pieces = wire.unpack_data(frame.body), None
        check_chunk(head, session.target(head.disk_index).size_bytes)  # before any IO
        session.note_received(head.disk_index, head.offset_bytes, head.raw_length_bytes,
                              zero=head.codec == Codec.ZERO)
        buffer = None if head.codec == Codec.ZERO else writer.stage_buffer()
        self._check_and_submit(writer, head, self._stage_cell(head, pieces, payload, buffer),
                               buffer)

    def _on_patch(self, session: JobSession, writer: ChunkWriter, frame: wire.Frame) -> None:
        """Changed blocks of a cell: laid over the cell the target holds, checked, written."""
        head, pieces, payload = patch.unpack_patch(frame.body)
        target = session.target(head.disk_index)
        check_chunk(head, target.size_bytes)  # before any IO
        packed_len = sum(n for _s, n in pieces)
        session.note_received(head.disk_index, head.offset_bytes, packed_len)
        buffer = writer.stage_buffer()
        cell = buffer[: head.raw_length_bytes]
        packed = (wire.zero_bytes(packed_len) if head.codec == Codec.ZERO and not payload
                  else self._decode(head.codec, payload, packed_len))
        stage = None
        if packed is not None and target.read_into(cell, head.offset_bytes) == len(cell):
            patch.overlay(cell, pieces, packed)
            stage = cell
        self._check_and_submit(writer, head, stage, buffer, pieces)

    def _on_raw_data(self, session: JobSession, writer: ChunkWriter, body_length: int) -> bool:
        """Receive a RAW DATA payload straight into a stage buffer; False if not RAW."""
        head, _ = wire.unpack_data(self._reader.prefix())
        if head.codec != Codec.RAW or body_length - wire.DATA_HEADER.size != head.raw_length_bytes:
            return False
        check_chunk(head, session.target(head.disk_index).size_bytes)  # before any IO
        session.note_received(head.disk_index, head.offset_bytes, head.raw_length_bytes)
        buffer = writer.stage_buffer()
        stage = buffer[: head.raw_length_bytes]
        try:
            self._reader.read_rest_into(stage)
        except BaseException:
            writer.give_back(buffer)
            raise
        self._check_and_submit(writer, head, stage, buffer)
        return True

    def _check_and_submit(self, writer: ChunkWriter, head: wire.DataHeader,
                          raw: memoryview | None, buffer: memoryview | None,
                          patched: tuple[tuple[int, int], ...] | None = None) -> None:
        """Queue a staged chunk for writing if its digest matches, else NACK it."""
        assert self.session is not None
        if raw is None or self.session.digest.digest(raw) != head.digest:
            if buffer is not None:
                writer.give_back(buffer)
            rng = ChunkRange(head.disk_index, head.offset_bytes, head.raw_length_bytes)
            self.sock.sendall(wire.pack_nack(rng))
            return
        record = ChunkRecord(head.disk_index, head.offset_bytes, head.raw_length_bytes,
                             head.plan_bytes, head.digest)
        writer.submit(StagedChunk(record, raw, buffer, patched))

    def _stage_cell(self, head: wire.DataHeader, pieces: tuple[tuple[int, int], ...] | None,
                    payload: memoryview, buffer: memoryview | None) -> memoryview | None:
        """The whole cell in a page-aligned stage buffer (for O_DIRECT), or None if damaged."""
        if buffer is None:
            return wire.zero_bytes(head.raw_length_bytes) if not payload and not pieces else None
        packed_len = head.raw_length_bytes if pieces is None else head.plan_bytes
        packed = self._decode(head.codec, payload, packed_len)
        if packed is None:
            return None
        stage = buffer[: head.raw_length_bytes]
        if pieces is None:
            stage[:] = packed
        else:
            wire.scatter_pieces(stage, pieces, packed)
        return stage

    def _decode(self, codec: Codec, payload: memoryview, length: int) -> memoryview | bytes | None:
        """The decoded payload of exactly length bytes, or None when it is damaged."""
        if codec == Codec.RAW:
            return payload if len(payload) == length else None
        if codec == Codec.ZLIB:
            return _inflate(payload, length)
        try:
            raw = self._dctx.decompress(payload, max_output_size=length)
        except zstandard.ZstdError:
            return None
        return raw if len(raw) == length else None

    def _input_waiting(self) -> bool:
        if self.sock.pending() or self._reader.buffered():
            return True
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def _wait_input(self, writer: ChunkWriter) -> bool:
        """Wait for agent data (True) or a finished commit (False)."""
        sock_fd = self.sock.fileno()
        readable, _, _ = select.select([sock_fd, writer.wake_r], [], [], IDLE_TIMEOUT_S)
        if not readable:
            raise TimeoutError("the agent sent nothing for too long")
        return sock_fd in readable

    def _send_results(self, writer: ChunkWriter) -> None:
        """ACK durable chunks and NACK those that failed read-back (only this thread sends)."""
        out: list[bytes] = []
        for done in writer.results():
            out += [wire.pack_nack(ChunkRange(c.disk_index, c.offset_bytes, c.length_bytes))
                    for c in done.bad]
            if done.good:
                out.append(wire.pack_ranges(FrameType.ACK, [
                    ChunkRange(c.disk_index, c.offset_bytes, c.length_bytes) for c in done.good]))
        if out:
            self.sock.sendall(b"".join(out))
        writer.raise_error()

    def _on_disk_done(self, session: JobSession, done: DiskDone) -> None:
        session.finish_disk(done.index, done.digest)
        self.sock.sendall(wire.pack_control(FrameType.DISK_OK, DiskOk(done.index).to_json()))

    def _send_quietly(self, data: bytes) -> None:
        """Send an ERROR frame, then drain briefly so closing does not reset it away."""
        try:
            self.sock.settimeout(5.0)
            self.sock.sendall(data)
            # closing with unread input sends a TCP reset, which can destroy the ERROR frame
            # before the peer reads it: half-close (the peer sees EOF right after the ERROR),
            # then read and drop a bounded amount until the peer closes too
            self.sock.shutdown(socket.SHUT_WR)
            end, drained = time.monotonic() + LINGER_S, 0
            while drained < LINGER_MAX_BYTES and time.monotonic() < end:
                self.sock.settimeout(max(0.01, end - time.monotonic()))
                n = len(self.sock.recv(64 * 1024))
                if n == 0:
                    break
                drained += n
        except (OSError, ValueError):
            pass

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        with contextlib.suppress(OSError):
            self.sock.close()


def _inflate(payload: memoryview, length: int) -> bytes | None:
    """A zlib payload decoded to exactly length bytes (never more), or None when damaged."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(payload, length)
    except zlib.error:
        return None
    complete = inflater.eof and not inflater.unconsumed_tail and not inflater.unused_data
    return raw if complete and len(raw) == length else None
