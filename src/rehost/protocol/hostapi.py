"""The transit-host API (`/api/v1/transit-hosts/self/*`): transit host <-> server messages.

The server's routes answer with these types' `to_json()` (their pydantic response models
mirror them, see `rehost.api.schemas`); the host (`rehost.transit.remote`, `hostmain`,
`hostbuild`) sends requests with `to_json()` and reads the answers with `from_json()`.
"""

from typing import NamedTuple, Optional, Tuple

from rehost.protocol.fields import (
    BAD_MESSAGE,
    Doc,
    as_doc,
    bad,
    req_bool,
    req_docs,
    req_float,
    req_int,
    req_list,
    req_str,
    req_strs,
)


class HostDisk(NamedTuple):
    """A disk of a job on a transit host: source size and wanted target size."""

    index: int  # type: ignore[assignment]  # a field shadows tuple.index
    size_bytes: int
    target_size_bytes: int

    def to_json(self) -> Doc:
        """A JSON-ready dict."""
        return {"index": self.index, "size_bytes": self.size_bytes,
                "target_size_bytes": self.target_size_bytes}

    @classmethod
    def from_json(cls, doc: Doc) -> "HostDisk":
        """Parse one disk."""
        w = "lookup job disk"
        return cls(req_int(doc, "index", w), req_int(doc, "size_bytes", w),
                   req_int(doc, "target_size_bytes", w))


class HostJob(NamedTuple):
    """The job of a data token whose transit runs on this host (answer of /self/lookup)."""

    job_id: str
    transit_id: str
    checksum: bool
    disks: "Tuple[HostDisk, ...]"

    def to_json(self) -> Doc:
        """A JSON-ready dict."""
        return {"job_id": self.job_id, "transit_id": self.transit_id, "checksum": self.checksum,
                "disks": [d.to_json() for d in self.disks]}

    @classmethod
    def from_json(cls, doc: Doc) -> "HostJob":
        """Parse the job of a lookup answer."""
        w = "lookup job"
        return cls(req_str(doc, "job_id", w), req_str(doc, "transit_id", w),
                   req_bool(doc, "checksum", w),
                   tuple(HostDisk.from_json(d) for d in req_docs(doc, "disks", w)))


def lookup_json(job: "Optional[HostJob]") -> Doc:
    """The /self/lookup answer: {"job": null} when the token is not this host's to serve."""
    return {"job": None if job is None else job.to_json()}


def parse_lookup(doc: Doc) -> "Optional[HostJob]":
    """The job of a /self/lookup answer, or None."""
    job = doc.get("job")
    return None if job is None else HostJob.from_json(as_doc(job, "lookup job"))


class Release(NamedTuple):
    """A transit whose work dir the host deletes (its job ended or moved)."""

    transit_id: str
    job_id: str

    def to_json(self) -> Doc:
        """A JSON-ready dict."""
        return {"transit_id": self.transit_id, "job_id": self.job_id}

    @classmethod
    def from_json(cls, doc: Doc) -> "Release":
        """Parse one release order."""
        return cls(req_str(doc, "transit_id", "release"), req_str(doc, "job_id", "release"))


class BuildOrder(NamedTuple):
    """An image the host builds from a transit's received disks (Processing on the host)."""

    transit_id: str
    job_id: str
    source_id: str
    image_id: str
    image_name: str
    disks: "Tuple[Tuple[int, int, int], ...]"  # (index, source size, target size) in bytes
    boot_mode: str = "BIOS"
    disk_format: str = "raw"
    verify: bool = False
    accept_failed_checks: bool = False
    adapt_guests: bool = False
    adapt_engine: str = "rehost"
    keep_static_network: bool = False
    digests: "Tuple[Tuple[int, str], ...]" = ()  # (index, whole-disk digest) the server knows

    def to_json(self) -> Doc:
        """A JSON-ready dict (work_dir "" : the host keeps its own work root)."""
        return {"transit_id": self.transit_id, "job_id": self.job_id,
                "source_id": self.source_id, "image_id": self.image_id,
                "image_name": self.image_name, "work_dir": "",
                "disks": [list(d) for d in self.disks], "boot_mode": self.boot_mode,
                "disk_format": self.disk_format, "verify": self.verify,
                "digests": [list(d) for d in self.digests],
                "accept_failed_checks": self.accept_failed_checks,
                "adapt_guests": self.adapt_guests, "adapt_engine": self.adapt_engine,
                "keep_static_network": self.keep_static_network}

    @classmethod
    def from_json(cls, doc: Doc) -> "BuildOrder":
        """Parse one build order; raises WireError naming the field."""
        w = "build order"
        return cls(
            transit_id=req_str(doc, "transit_id", w), job_id=req_str(doc, "job_id", w),
            source_id=req_str(doc, "source_id", w), image_id=req_str(doc, "image_id", w),
            image_name=req_str(doc, "image_name", w), disks=_triples(doc, w),
            boot_mode=req_str(doc, "boot_mode", w, default="BIOS"),
            disk_format=req_str(doc, "disk_format", w, default="raw"),
            verify=req_bool(doc, "verify", w, default=False),
            accept_failed_checks=req_bool(doc, "accept_failed_checks", w, default=False),
            adapt_guests=req_bool(doc, "adapt_guests", w, default=False),
            adapt_engine=req_str(doc, "adapt_engine", w, default="rehost"),
            keep_static_network=req_bool(doc, "keep_static_network", w, default=False),
        )


def _triples(doc: Doc, where: str) -> "Tuple[Tuple[int, int, int], ...]":
    out = []
    for item in req_list(doc, "disks", where):
        if not (isinstance(item, (list, tuple)) and len(item) == 3
                and all(isinstance(n, int) and not isinstance(n, bool) for n in item)):
            raise bad(where, "disks", "a list of [index, size, target size]",
                      "[序号, 大小, 目标大小] 的列表", BAD_MESSAGE)
        out.append((int(item[0]), int(item[1]), int(item[2])))
    return tuple(out)


class WorkOrders(NamedTuple):
    """The answer of /self/work: jobs to disconnect, transits to release, builds, deletions."""

    disconnect: "Tuple[str, ...]" = ()
    release: "Tuple[Release, ...]" = ()
    build: "Tuple[BuildOrder, ...]" = ()
    delete_images: "Tuple[str, ...]" = ()

    def to_json(self) -> Doc:
        """A JSON-ready dict."""
        return {"disconnect": list(self.disconnect),
                "release": [r.to_json() for r in self.release],
                "build": [b.to_json() for b in self.build],
                "delete_images": list(self.delete_images)}

    @classmethod
    def from_json(cls, doc: Doc) -> "WorkOrders":
        """Parse a work answer (absent lists are empty)."""
        w = "work orders"
        return cls(
            disconnect=req_strs(doc, "disconnect", w, default=[]),
            release=tuple(Release.from_json(d) for d in req_docs(doc, "release", w, default=[])),
            build=tuple(BuildOrder.from_json(d) for d in req_docs(doc, "build", w, default=[])),
            delete_images=req_strs(doc, "delete_images", w, default=[]),
        )


class Registration(NamedTuple):
    """What a host keeps of its registration answer (POST /transit-hosts)."""

    host_id: str
    host_token: str
    cert_pem: str
    key_pem: str
    ca_pem: str
    heartbeat_interval_s: float

    @classmethod
    def from_json(cls, doc: Doc) -> "Registration":
        """Parse a registration answer."""
        w = "registration"
        return cls(req_str(doc, "host_id", w), req_str(doc, "host_token", w),
                   req_str(doc, "cert_pem", w), req_str(doc, "key_pem", w),
                   req_str(doc, "ca_pem", w), req_float(doc, "heartbeat_interval_s", w))


def heartbeat_interval(doc: Doc, default_s: float) -> float:
    """The heartbeat interval of a /self/heartbeat answer."""
    return req_float(doc, "heartbeat_interval_s", "heartbeat", default=default_s)
