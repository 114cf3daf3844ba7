"""One agent data connection on the transit: HELLO, then DATA with group-committed ACKs."""

from __future__ import annotations

import contextlib
import logging
import mmap
import select
import ssl
import time
from collections.abc import Callable
from typing import Any

import xxhash
import zstandard

from rehost import wire
from rehost.transit.errors import TransitError
from rehost.transit.journal import ChunkRecord
from rehost.transit.session import JobSession
from rehost.wire import ChunkRange, Codec, FrameType, WireError

log = logging.getLogger(__name__)

# a group commit (fsync data, then journal, then ACK) happens when the input goes idle, or
# after this many chunks/bytes/seconds; the agent's window must not depend on these values
COMMIT_MAX_CHUNKS = 8
COMMIT_MAX_BYTES = 32 * 1024 * 1024
COMMIT_MAX_DELAY_S = 0.25
HELLO_TIMEOUT_S = 30.0
IDLE_TIMEOUT_S = 300.0

SessionOpener = Callable[[str], JobSession | None]


class DataConnection:
    """Serves one TLS connection until the peer leaves or an error ends it."""

    def __init__(self, sock: ssl.SSLSocket, open_session: SessionOpener) -> None:
        self.sock = sock
        self._open_session = open_session
        self._reader = wire.FrameReader(sock, wire.DATA_HEADER.size + wire.MAX_PAYLOAD_BYTES)
        self._dctx = zstandard.ZstdDecompressor()
        self._verify_map = mmap.mmap(-1, wire.MAX_RAW_BYTES)
        self._verify = memoryview(self._verify_map)
        self._stage_map = mmap.mmap(-1, wire.MAX_RAW_BYTES)
        self._stage = memoryview(self._stage_map)
        self._pending: list[ChunkRecord] = []
        self._pending_bytes = 0
        self._pending_since = 0.0
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
        finally:
            self._close()

    def _run(self) -> None:
        self.sock.settimeout(HELLO_TIMEOUT_S)
        session = self._handshake()
        self.sock.settimeout(IDLE_TIMEOUT_S)
        while True:
            frame = self._reader.read()
            if frame.type == FrameType.DATA:
                self._on_data(session, frame.body)
                if self._should_commit():
                    self._commit(session)
            elif frame.type == FrameType.DISK_DONE:
                self._commit(session)
                self._on_disk_done(session, wire.unpack_control(frame.body))
            else:
                raise WireError("Wire.BadFrame", f"unexpected {frame.type.name} frame")

    def _handshake(self) -> JobSession:
        frame = self._reader.read()
        if frame.type != FrameType.HELLO:
            raise WireError("Wire.BadFrame", "the first frame must be HELLO")
        doc = wire.unpack_control(frame.body)
        session = self._open_session(str(doc.get("token", "")))
        if session is None:
            raise WireError("Transit.InvalidToken", "unknown or inactive job data token")
        self.session = session
        self.on_session(session)
        state = session.hello(doc)
        self.sock.sendall(wire.pack_control(FrameType.HELLO_OK, state))
        if all(d["done"] for d in state["disks"]):
            session.maybe_sync_done()
        return session

    def _on_data(self, session: JobSession, body: memoryview) -> None:
        head, payload = wire.unpack_data(body)
        session.note_received(head.disk_index, head.offset_bytes, head.raw_length_bytes)
        raw = self._decode(head, payload)
        if raw is None or xxhash.xxh3_128_digest(raw) != head.digest:
            rng = ChunkRange(head.disk_index, head.offset_bytes, head.raw_length_bytes)
            self.sock.sendall(wire.pack_nack(rng))
            return
        if head.codec != Codec.ZERO:
            # stage in a page-aligned buffer so the target can write it with O_DIRECT
            stage = self._stage[: head.raw_length_bytes]
            stage[:] = raw
            session.target(head.disk_index).write_sparse(head.offset_bytes, stage, aligned=True)
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(
            ChunkRecord(head.disk_index, head.offset_bytes, head.raw_length_bytes,
                        head.plan_bytes, head.digest)
        )
        self._pending_bytes += head.raw_length_bytes

    def _decode(self, head: wire.DataHeader, payload: memoryview) -> memoryview | bytes | None:
        """The raw chunk bytes, or None when the payload is damaged."""
        if head.codec == Codec.RAW:
            return payload if len(payload) == head.raw_length_bytes else None
        if head.codec == Codec.ZERO:
            return wire.zero_bytes(head.raw_length_bytes) if not payload else None
        try:
            raw = self._dctx.decompress(payload, max_output_size=head.raw_length_bytes)
        except zstandard.ZstdError:
            return None
        return raw if len(raw) == head.raw_length_bytes else None

    def _should_commit(self) -> bool:
        if not self._pending:
            return False
        if len(self._pending) >= COMMIT_MAX_CHUNKS or self._pending_bytes >= COMMIT_MAX_BYTES:
            return True
        if time.monotonic() - self._pending_since >= COMMIT_MAX_DELAY_S:
            return True
        return not self._input_waiting()

    def _input_waiting(self) -> bool:
        if self.sock.pending() or self._reader.buffered():
            return True
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def _commit(self, session: JobSession) -> None:
        if not self._pending:
            return
        chunks, self._pending, self._pending_bytes = self._pending, [], 0
        bad = session.commit(chunks, self._verify)
        good = [c for c in chunks if c not in bad]
        out = [wire.pack_nack(ChunkRange(c.disk_index, c.offset_bytes, c.length_bytes))
               for c in bad]
        if good:
            ranges = [ChunkRange(c.disk_index, c.offset_bytes, c.length_bytes) for c in good]
            out.append(wire.pack_ranges(FrameType.ACK, ranges))
        self.sock.sendall(b"".join(out))

    def _on_disk_done(self, session: JobSession, doc: dict[str, Any]) -> None:
        index = int(doc["index"])
        digest = bytes.fromhex(str(doc.get("digest", "")))
        session.finish_disk(index, digest)
        self.sock.sendall(wire.pack_control(FrameType.DISK_OK, {"index": index}))

    def _send_quietly(self, data: bytes) -> None:
        try:
            self.sock.settimeout(5.0)
            self.sock.sendall(data)
        except OSError:
            pass

    def _close(self) -> None:
        for view, buf in ((self._verify, self._verify_map), (self._stage, self._stage_map)):
            view.release()
            buf.close()
        with contextlib.suppress(OSError):
            self.sock.close()
