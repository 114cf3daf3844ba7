"""The data port's control frames: HELLO, HELLO_OK (the resume state), DISK_DONE, DISK_OK, ERROR.

New fields are optional with a default, so an older peer's document still parses and
`to_json` leaves a field at its default out when the older peer would not expect it.
"""

from typing import NamedTuple, Optional, Tuple

from rehost.protocol.fields import (
    BAD_FRAME,
    Doc,
    pairs_json,
    req_bool,
    req_docs,
    req_int,
    req_pairs,
    req_str,
    req_strs,
)
from rehost.wire import WireError

DIGEST_HEX_CHARS = 32  # a 128-bit chunk digest (xxh3-128 or blake2b-128, `rehost.chunkdigest`)
MAX_NAMES = 16  # digests / codecs a peer may name
MAX_NAME_CHARS = 32


def req_names(doc: Doc, key: str, where: str) -> "Optional[Tuple[str, ...]]":
    """An optional list of up to 16 short names (digests, codecs); None when absent."""
    if doc.get(key) is None:
        return None
    names = doc[key]
    if (not isinstance(names, list) or len(names) > MAX_NAMES
            or not all(isinstance(n, str) and len(n) <= MAX_NAME_CHARS for n in names)):
        raise WireError(BAD_FRAME,
                        f"{where}: {key!r} must be a list of up to {MAX_NAMES} short names"
                        f" / {where}：{key!r} 必须是最多 {MAX_NAMES} 个短名称的列表")
    return tuple(names)


class DiskOffer(NamedTuple):
    """One disk in HELLO: its size and how many bytes of it the agent's plan sends."""

    index: int  # type: ignore[assignment]  # a field shadows tuple.index
    size_bytes: int
    plan_bytes: int
    plan_notes: "Tuple[str, ...]" = ()

    def to_json(self) -> Doc:
        """A JSON-ready dict."""
        return {"index": self.index, "size_bytes": self.size_bytes,
                "plan_bytes": self.plan_bytes, "plan_notes": list(self.plan_notes)}

    @classmethod
    def from_json(cls, doc: Doc) -> "DiskOffer":
        """Parse one disk of HELLO; raises WireError naming the field."""
        w = "HELLO disk"
        return cls(req_int(doc, "index", w, BAD_FRAME), req_int(doc, "size_bytes", w, BAD_FRAME),
                   req_int(doc, "plan_bytes", w, BAD_FRAME),
                   req_strs(doc, "plan_notes", w, BAD_FRAME, default=[]))


class Hello(NamedTuple):
    """The agent's first frame: its data token, chunk grid, wire version and disks.

    `digests` and `codecs` name the chunk digests it computes and the payload codecs it sends,
    preferred first; None (absent: an older agent) means xxh3-128 and zstd only.
    """

    token: str
    chunk_bytes: int
    disks: "Tuple[DiskOffer, ...]"
    agent_id: str = ""
    wire_version: int = 1
    cycle: int = 0  # incremental jobs (wire version 3): the pass the agent sends
    digests: "Optional[Tuple[str, ...]]" = None
    codecs: "Optional[Tuple[str, ...]]" = None

    def to_json(self) -> Doc:
        """A JSON-ready dict (cycle, digests and codecs only when set)."""
        doc: Doc = {"token": self.token, "agent_id": self.agent_id,
                    "chunk_bytes": self.chunk_bytes, "wire_version": self.wire_version,
                    "disks": [d.to_json() for d in self.disks]}
        if self.cycle:
            doc["cycle"] = self.cycle
        if self.digests is not None:
            doc["digests"] = list(self.digests)
        if self.codecs is not None:
            doc["codecs"] = list(self.codecs)
        return doc

    @classmethod
    def from_json(cls, doc: Doc) -> "Hello":
        """Parse HELLO; raises WireError naming the field."""
        w = "HELLO"
        return cls(
            token=req_str(doc, "token", w, BAD_FRAME),
            chunk_bytes=req_int(doc, "chunk_bytes", w, BAD_FRAME),
            disks=tuple(DiskOffer.from_json(d) for d in req_docs(doc, "disks", w, BAD_FRAME)),
            agent_id=req_str(doc, "agent_id", w, BAD_FRAME, default=""),
            wire_version=req_int(doc, "wire_version", w, BAD_FRAME, default=1),
            cycle=req_int(doc, "cycle", w, BAD_FRAME, default=0),
            digests=req_names(doc, "digests", w),
            codecs=req_names(doc, "codecs", w),
        )


class DiskResume(NamedTuple):
    """What the transit holds durably of one disk (HELLO_OK)."""

    index: int  # type: ignore[assignment]  # a field shadows tuple.index
    acked: "Tuple[Tuple[int, int], ...]"  # merged (start, length) byte ranges
    done: bool
    done_bytes: int
    base: "Optional[str]" = None  # delta passes: `wire.pack_base` of the target's cells

    def to_json(self) -> Doc:
        """A JSON-ready dict (base only on a delta pass)."""
        doc: Doc = {"index": self.index, "acked": pairs_json(self.acked), "done": self.done,
                    "done_bytes": self.done_bytes}
        if self.base is not None:
            doc["base"] = self.base
        return doc

    @classmethod
    def from_json(cls, doc: Doc) -> "DiskResume":
        """Parse one disk of HELLO_OK."""
        w = "HELLO_OK disk"
        base = doc.get("base")
        return cls(req_int(doc, "index", w, BAD_FRAME), req_pairs(doc, "acked", w, BAD_FRAME),
                   req_bool(doc, "done", w, BAD_FRAME), req_int(doc, "done_bytes", w, BAD_FRAME),
                   None if base is None else req_str(doc, "base", w, BAD_FRAME))


class HelloOk(NamedTuple):
    """The transit's answer to HELLO: the resume state of every disk.

    `digest` is the chunk digest agreed for the connection ("": an older transit, xxh3-128);
    `codecs` the agent's codecs the transit decodes (None: an older transit, zstd only).
    """

    job_id: str
    checksum: bool
    disks: "Tuple[DiskResume, ...]"
    wire_version: int = 1
    cycle: int = 0  # delta passes: the transit's pass after this HELLO
    delta: bool = False  # the transit runs a delta pass (base digests in disks)
    digest: str = ""
    codecs: "Optional[Tuple[str, ...]]" = None

    def to_json(self) -> Doc:
        """A JSON-ready dict (cycle and delta only on an incremental job)."""
        doc: Doc = {"job_id": self.job_id, "checksum": self.checksum,
                    "wire_version": self.wire_version,
                    "disks": [d.to_json() for d in self.disks]}
        if self.digest:
            doc["digest"] = self.digest
        if self.codecs is not None:
            doc["codecs"] = list(self.codecs)
        if self.cycle:
            doc["cycle"], doc["delta"] = self.cycle, self.delta
        return doc

    @classmethod
    def from_json(cls, doc: Doc) -> "HelloOk":
        """Parse HELLO_OK; raises WireError naming the field."""
        w = "HELLO_OK"
        return cls(
            job_id=req_str(doc, "job_id", w, BAD_FRAME, default=""),
            checksum=req_bool(doc, "checksum", w, BAD_FRAME),
            disks=tuple(DiskResume.from_json(d) for d in req_docs(doc, "disks", w, BAD_FRAME)),
            wire_version=req_int(doc, "wire_version", w, BAD_FRAME, default=1),
            cycle=req_int(doc, "cycle", w, BAD_FRAME, default=0),
            delta=req_bool(doc, "delta", w, BAD_FRAME, default=False),
            digest=req_str(doc, "digest", w, BAD_FRAME, default=""),
            codecs=req_names(doc, "codecs", w),
        )

    def pending(self) -> "Tuple[DiskResume, ...]":
        """Disks not yet done."""
        return tuple(d for d in self.disks if not d.done)


class DiskDone(NamedTuple):
    """The agent sent every planned cell of a disk; digest_hex is "" when checksums are off."""

    index: int  # type: ignore[assignment]  # a field shadows tuple.index
    digest_hex: str = ""

    def to_json(self) -> Doc:
        """A JSON-ready dict."""
        return {"index": self.index, "digest": self.digest_hex}

    @classmethod
    def from_json(cls, doc: Doc) -> "DiskDone":
        """Parse DISK_DONE: the digest is 32 hex digits or empty."""
        text = req_str(doc, "digest", "DISK_DONE", BAD_FRAME, default="")
        if len(text) not in (0, DIGEST_HEX_CHARS):
            raise _bad_digest("must be 32 hex digits or empty", "必须是 32 位十六进制数或为空")
        try:
            bytes.fromhex(text)
        except ValueError as exc:
            raise _bad_digest("is not hexadecimal", "不是十六进制数") from exc
        return cls(req_int(doc, "index", "DISK_DONE", BAD_FRAME), text)

    @property
    def digest(self) -> bytes:
        """The whole-disk digest as bytes (b"" when checksums are off)."""
        return bytes.fromhex(self.digest_hex)


class DiskOk(NamedTuple):
    """The transit verified and marked a disk done."""

    index: int  # type: ignore[assignment]  # a field shadows tuple.index

    def to_json(self) -> Doc:
        """A JSON-ready dict."""
        return {"index": self.index}

    @classmethod
    def from_json(cls, doc: Doc) -> "DiskOk":
        """Parse DISK_OK."""
        return cls(req_int(doc, "index", "DISK_OK", BAD_FRAME))


class ErrorFrame(NamedTuple):
    """An ERROR frame: the sender closes the connection after it."""

    code: str
    message: str

    def to_json(self) -> Doc:
        """A JSON-ready dict."""
        return {"code": self.code, "message": self.message}

    @classmethod
    def from_json(cls, doc: Doc) -> "ErrorFrame":
        """Parse ERROR (a missing field becomes its name, so the failure still shows)."""
        return cls(str(doc.get("code", "Wire.Error")), str(doc.get("message", "")))


def _bad_digest(en: str, zh: str) -> WireError:
    return WireError(BAD_FRAME, f"DISK_DONE: 'digest' {en} / DISK_DONE：'digest' {zh}")

