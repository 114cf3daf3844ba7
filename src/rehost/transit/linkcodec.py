"""The values of `rehost.transit.ports` as JSON documents: the receiver-process link's messages,
and the progress and sync-done bodies a transit host posts to the host API."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from rehost.protocol.fields import Doc, req_bool, req_docs, req_float, req_int, req_str
from rehost.transit.limits import DataPortLimits
from rehost.transit.ports import (
    DiskDigest,
    ReceivedDisk,
    ReceiverProgress,
    TransitDisk,
    TransitJobSpec,
)

WHERE = "receiver link"


def spec_doc(spec: TransitJobSpec | None) -> Doc:
    """A lookup's answer."""
    if spec is None:
        return {"job": None}
    return {"job": {"job_id": spec.job_id, "work_dir": str(spec.work_dir),
                    "checksum": spec.checksum, "disks": [asdict(d) for d in spec.disks]}}


def parse_spec(doc: Doc) -> TransitJobSpec | None:
    """The spec of a lookup's answer (None: no such active job)."""
    job = doc.get("job")
    if job is None:
        return None
    if not isinstance(job, dict):
        raise ValueError(f"{WHERE}: 'job' must be an object")
    disks = tuple(TransitDisk(req_int(d, "index", WHERE), req_int(d, "size_bytes", WHERE),
                              req_int(d, "target_size_bytes", WHERE))
                  for d in req_docs(job, "disks", WHERE))
    return TransitJobSpec(job_id=req_str(job, "job_id", WHERE),
                          work_dir=Path(req_str(job, "work_dir", WHERE)), disks=disks,
                          checksum=req_bool(job, "checksum", WHERE))


def progress_doc(progress: ReceiverProgress) -> Doc:
    """A progress report."""
    return {"job_id": progress.job_id, "rate_bytes_per_s": progress.rate_bytes_per_s,
            "disks": [asdict(d) for d in progress.disks]}


def parse_progress(doc: Doc) -> ReceiverProgress:
    """A progress report from its document."""
    disks = tuple(ReceivedDisk(req_int(d, "index", WHERE), req_int(d, "done_bytes", WHERE),
                               req_int(d, "total_bytes", WHERE))
                  for d in req_docs(doc, "disks", WHERE))
    return ReceiverProgress(req_str(doc, "job_id", WHERE), disks,
                            req_float(doc, "rate_bytes_per_s", WHERE))


def digests_doc(job_id: str, digests: tuple[DiskDigest, ...]) -> Doc:
    """A sync done: the job and its whole-disk digests."""
    return {"job_id": job_id, "digests": [asdict(d) for d in digests]}


def parse_digests(doc: Doc) -> tuple[str, tuple[DiskDigest, ...]]:
    """(job id, digests) of a sync done."""
    return req_str(doc, "job_id", WHERE), tuple(
        DiskDigest(req_int(d, "index", WHERE), req_str(d, "digest_hex", WHERE),
                   _pass_bytes(d))
        for d in req_docs(doc, "digests", WHERE))


def limits_doc(limits: DataPortLimits) -> Doc:
    """The data port limits a receiver process applies."""
    return asdict(limits)


def parse_limits(doc: Doc) -> DataPortLimits:
    """Data port limits from their document."""
    return DataPortLimits(hello_timeout_s=req_float(doc, "hello_timeout_s", WHERE),
                          max_connections=req_int(doc, "max_connections", WHERE),
                          max_connections_per_address=req_int(
                              doc, "max_connections_per_address", WHERE),
                          preauth_frame_bytes=req_int(doc, "preauth_frame_bytes", WHERE))


def _pass_bytes(doc: Doc) -> int:
    value = doc.get("pass_bytes", -1)
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise ValueError(f"{WHERE}: 'pass_bytes' must be an integer of -1 or more")
    return value
