"""The link between the server and one receiver process: typed calls both ways, sockets passed.

One SOCK_SEQPACKET Unix socket pair per receiver process; each message is one JSON document
(`Message`), a data connection's socket rides along as SCM_RIGHTS. A call waits for its reply;
a notice does not. Calls are answered from a thread of their own, so a slow answer (a database
commit) never holds the link's reader. When either end goes away every waiting call fails
with `LinkClosed` and `on_close` runs once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rehost.protocol.fields import Doc

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 1024 * 1024
CALL_TIMEOUT_S = 120.0

Handler = Callable[[str, Doc, list[socket.socket]], Doc | None]


class LinkClosed(ConnectionError):
    """The other end of the link is gone (or the call was not answered in time)."""


class RemoteCallError(RuntimeError):
    """The other end raised while answering a call."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message on the link: a call (wants a reply), a notice (call_id 0) or a reply."""

    kind: str  # "call" | "reply"
    call_id: int
    method: str = ""
    body: Doc = field(default_factory=dict)
    error: str = ""

    def encode(self) -> bytes:
        """The message as JSON bytes."""
        return json.dumps({"kind": self.kind, "id": self.call_id, "method": self.method,
                           "body": self.body, "error": self.error}).encode()

    @classmethod
    def decode(cls, data: bytes) -> Message:
        """A message from JSON bytes (ValueError when malformed)."""
        doc = json.loads(data)
        if (not isinstance(doc, dict) or doc.get("kind") not in ("call", "reply")
                or not isinstance(doc.get("id"), int) or not isinstance(doc.get("body"), dict)):
            raise ValueError("not a link message")
        return cls(doc["kind"], doc["id"], str(doc.get("method", "")), doc["body"],
                   str(doc.get("error", "")))


class Link:
    """Calls and notices over one Unix socket; `handle` answers the other end's calls."""

    def __init__(self, sock: socket.socket, handle: Handler, *, name: str,
                 on_close: Callable[[], None] = lambda: None) -> None:
        self._sock, self._handle, self._on_close = sock, handle, on_close
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[threading.Event, list[Message]]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, name=f"link-{name}", daemon=True)

    def start(self) -> None:
        """Start reading the other end's messages."""
        self._reader.start()

    @property
    def closed(self) -> bool:
        """Whether the link is gone."""
        return self._closed

    def call(self, method: str, body: Doc, *, timeout_s: float = CALL_TIMEOUT_S) -> Doc:
        """Send a call and wait for its reply body."""
        call_id = next(self._ids)
        done, slot = threading.Event(), list[Message]()
        with self._lock:
            if self._closed:
                raise LinkClosed(f"{method}: the receiver link is closed")
            self._waiting[call_id] = (done, slot)
        try:
            self._send(Message("call", call_id, method, body))
            if not done.wait(timeout_s) or not slot:
                raise LinkClosed(f"{method}: no answer from the other end of the link")
        finally:
            with self._lock:
                self._waiting.pop(call_id, None)
        if slot[0].error:
            raise RemoteCallError(f"{method}: {slot[0].error}")
        answer: Doc = slot[0].body
        return answer

    def notify(self, method: str, body: Doc, sockets: Sequence[socket.socket] = ()) -> None:
        """Send a notice (no reply), with sockets to pass to the other process."""
        self._send(Message("call", 0, method, body), [s.fileno() for s in sockets])

    def close(self) -> None:
        """Close the link (the reader then ends and fails every waiting call)."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _send(self, message: Message, fds: Sequence[int] = ()) -> None:
        try:
            with self._send_lock:
                if fds:
                    socket.send_fds(self._sock, [message.encode()], list(fds))
                else:
                    self._sock.sendall(message.encode())
        except OSError as exc:
            raise LinkClosed(f"{message.method or 'reply'}: {exc}") from exc

    def _read_loop(self) -> None:
        try:
            while True:
                data, fds, _flags, _addr = socket.recv_fds(self._sock, MAX_MESSAGE_BYTES, 4)
                if not data:
                    return
                sockets = [socket.socket(fileno=fd) for fd in fds]
                try:
                    message = Message.decode(data)
                except ValueError:
                    log.error("receiver link: a malformed message was dropped")
                    for s in sockets:
                        s.close()
                    continue
                self._dispatch(message, sockets)
        except OSError as exc:
            log.info("receiver link closed: %s", exc)
        finally:
            self._end()

    def _dispatch(self, message: Message, sockets: list[socket.socket]) -> None:
        if message.kind == "reply":
            with self._lock:
                waiter = self._waiting.get(message.call_id)
            if waiter is not None:
                waiter[1].append(message)
                waiter[0].set()
            return
        threading.Thread(target=self._answer, args=(message, sockets),
                         name=f"link-{message.method}", daemon=True).start()

    def _answer(self, message: Message, sockets: list[socket.socket]) -> None:
        try:
            reply = Message("reply", message.call_id,
                            body=self._handle(message.method, message.body, sockets) or {})
        except Exception as exc:  # the caller gets the error; this end keeps serving
            log.exception("receiver link: %s failed", message.method)
            reply = Message("reply", message.call_id, error=f"{type(exc).__name__}: {exc}")
        if message.call_id:
            with contextlib.suppress(LinkClosed):
                self._send(reply)

    def _end(self) -> None:
        with self._lock:
            self._closed = True
            waiting = list(self._waiting.values())
        for done, _slot in waiting:
            done.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        self._on_close()
