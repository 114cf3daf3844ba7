"""The agent's work item: the answer to `GET /api/v1/agent/work` (API -> agent)."""

from typing import NamedTuple, Optional, Tuple

from rehost.protocol.fields import (
    BAD_MESSAGE,
    Doc,
    bad,
    opt_str,
    req_bool,
    req_docs,
    req_int,
    req_str,
)
from rehost.wire import WireError

ACTIONS = ("none", "replicate", "pause", "stop")


class DiskTask(NamedTuple):
    """One disk the agent must send."""

    index: int  # type: ignore[assignment]  # a field shadows tuple.index
    size_bytes: int
    target_size_bytes: int
    path: str = ""

    def to_json(self) -> Doc:
        """A JSON-ready dict."""
        return {"index": self.index, "size_bytes": self.size_bytes,
                "target_size_bytes": self.target_size_bytes, "path": self.path}

    @classmethod
    def from_json(cls, doc: Doc) -> "DiskTask":
        """Parse one disk of a work item; raises WireError naming the field."""
        w = "work item disk"
        return cls(req_int(doc, "index", w), req_int(doc, "size_bytes", w),
                   req_int(doc, "target_size_bytes", w, default=0),
                   req_str(doc, "path", w, default=""))


class WorkItem(NamedTuple):
    """What the agent should do now for its source (answer to a poll)."""

    action: str  # one of ACTIONS
    job_id: "Optional[str]" = None
    transit_endpoint: str = ""  # host:port of the job's transit data port
    data_token: str = ""
    disks: "Tuple[DiskTask, ...]" = ()
    compress_level: int = 0
    bandwidth_limit_kbps: int = 0
    checksum: bool = False
    cycle: int = 0  # incremental jobs: the cycle to send (its HELLO asks for a delta pass)

    def to_json(self) -> Doc:
        """A JSON-ready dict with every field."""
        return {"action": self.action, "job_id": self.job_id,
                "transit_endpoint": self.transit_endpoint, "data_token": self.data_token,
                "disks": [d.to_json() for d in self.disks],
                "compress_level": self.compress_level,
                "bandwidth_limit_kbps": self.bandwidth_limit_kbps, "checksum": self.checksum,
                "cycle": self.cycle}

    @classmethod
    def from_json(cls, doc: Doc) -> "WorkItem":
        """Parse a work item; absent optional fields take their defaults."""
        w = "work item"
        action = req_str(doc, "action", w)
        if action not in ACTIONS:
            raise _bad_action(action)
        return cls(
            action=action, job_id=opt_str(doc, "job_id", w),
            transit_endpoint=req_str(doc, "transit_endpoint", w, default=""),
            data_token=req_str(doc, "data_token", w, default=""),
            disks=tuple(DiskTask.from_json(d) for d in req_docs(doc, "disks", w, default=[])),
            compress_level=req_int(doc, "compress_level", w, default=0),
            bandwidth_limit_kbps=req_int(doc, "bandwidth_limit_kbps", w, default=0),
            checksum=req_bool(doc, "checksum", w, default=False),
            cycle=req_int(doc, "cycle", w, default=0),
        )


def _bad_action(action: str) -> WireError:
    return bad("work item", "action", f"one of {', '.join(ACTIONS)} (not {action!r})",
               f"{'、'.join(ACTIONS)} 之一（不是 {action!r}）", BAD_MESSAGE)
