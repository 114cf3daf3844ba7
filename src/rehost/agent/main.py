"""The agent's main loop: heartbeat, poll for work, run one replication at a time."""

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rehost.agent.apiclient import AgentApiError, UrllibAgentClient
from rehost.agent.sender import send_job
from rehost.agent.sendspec import SendDisk, SendError, SendSpec
from rehost.agent.state import AgentState

if TYPE_CHECKING:  # typing.Protocol is Python 3.8+; the agent runs on 3.6
    from typing import Protocol  # novermin: type checking only
else:
    Protocol = object

log = logging.getLogger(__name__)
DEFAULT_POLL_INTERVAL_S = 3.0
# after a completed send, give the transit this long to move the job on before sending again
RESEND_GRACE_S = 30.0


class AgentApi(Protocol):
    """What the loop needs from the server (AgentClient, or a fake in tests)."""

    def heartbeat(self, *, inventory: "dict[str, Any] | None" = None) -> "dict[str, Any]": ...
    def poll_work(self) -> "dict[str, Any]": ...
    def report_error(self, *, job_id: str, code: str, message: str,
                     hint: str = "", hint_zh: str = "") -> "dict[str, Any]": ...


Sender = Callable[..., Any]


class Replication:
    """One running send of a job, in its own thread."""

    def __init__(self, job_id: str, token: str, cycle: int = 0) -> None:
        self.job_id, self.token = job_id, token
        self.cycle = cycle  # incremental jobs: a new cycle on the same transit is a new send
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.completed_at = 0.0

    def is_alive(self) -> bool:
        """Whether the send thread still runs."""
        return self.thread is not None and self.thread.is_alive()


def split_endpoint(endpoint: str) -> "tuple[str, int]":
    """'host:port' (or '[v6]:port') → (host, port)."""
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise SendError("Agent.BadTransitEndpoint", f"bad transit endpoint {endpoint!r}")
    return host.strip("[]"), int(port)


def disk_path(state: AgentState, task: "dict[str, Any]") -> Path:
    """The device or image file of a job disk: image-file mode maps by index."""
    index = int(task["index"])
    if state.system_disk:
        paths = [state.system_disk, *state.data_disks]
        if index < len(paths):
            return Path(paths[index])
    if task.get("path"):
        return Path(str(task["path"]))
    raise SendError("Agent.DiskNotFound",
                    f"disk {index} of the job is not known to this agent / 代理找不到磁盘 {index}")


def send_spec(state: AgentState, work: "dict[str, Any]", *, connections: int) -> SendSpec:
    """Build the sender's spec from a `replicate` work item."""
    host, port = split_endpoint(str(work["transit_endpoint"]))
    ca_pem = Path(state.server_ca_file).read_bytes() if state.server_ca_file else b""
    disks = tuple(
        SendDisk(index=int(d["index"]), path=disk_path(state, d), size_bytes=int(d["size_bytes"]))
        for d in work.get("disks", [])
    )
    return SendSpec(
        host=host, port=port, token=str(work["data_token"]), agent_id=state.source_id,
        ca_pem=ca_pem, disks=disks, compress_level=int(work.get("compress_level") or 0),
        bandwidth_limit_kbps=int(work.get("bandwidth_limit_kbps") or 0),
        connections=connections, cycle=int(work.get("cycle") or 0),
    )


class AgentLoop:
    """Heartbeats every interval, polls every poll interval, starts/stops replications."""

    def __init__(self, state: AgentState, api: AgentApi, *, heartbeat_interval_s: float,
                 poll_interval_s: float = DEFAULT_POLL_INTERVAL_S, connections: int = 2,
                 sender: Sender = send_job, clock: "Callable[[], float]" = time.monotonic) -> None:
        self.state, self.api, self.sender, self.clock = state, api, sender, clock
        self.heartbeat_interval_s = heartbeat_interval_s
        self.poll_interval_s = min(poll_interval_s, heartbeat_interval_s)
        self.connections = connections
        self.current: Replication | None = None
        self._last_beat = float("-inf")

    def run(self, stop: threading.Event) -> None:
        """Loop until stop is set; stops the running replication on the way out."""
        try:
            while not stop.is_set():
                self.step()
                stop.wait(self.poll_interval_s)
        finally:
            self._halt()

    def step(self) -> None:
        """One round: heartbeat when due, then poll and act on the answer."""
        try:
            if self.clock() - self._last_beat >= self.heartbeat_interval_s:
                self.api.heartbeat()
                self._last_beat = self.clock()
            work = self.api.poll_work()
        except AgentApiError as exc:
            log.warning("server refused or unreachable: %s", exc)
            return
        self.act(work)

    def act(self, work: "dict[str, Any]") -> None:
        """Start, keep or stop the replication to match the server's instruction."""
        action, job_id = work.get("action"), str(work.get("job_id") or "")
        cur = self.current
        if action != "replicate":
            if cur is not None and cur.is_alive():
                log.info("job %s: %s from the server; stopping the send", cur.job_id, action)
            self._halt()
            return
        same = (cur is not None and cur.job_id == job_id and cur.token == work.get("data_token")
                and cur.cycle == int(work.get("cycle") or 0))
        if same and cur is not None and (
                cur.is_alive() or self.clock() - cur.completed_at < RESEND_GRACE_S):
            return
        self._halt()
        self._start(work, job_id)

    def _start(self, work: "dict[str, Any]", job_id: str) -> None:
        rep = Replication(job_id=job_id, token=str(work.get("data_token") or ""),
                          cycle=int(work.get("cycle") or 0))
        rep.thread = threading.Thread(target=self._replicate, args=(rep, work),
                                      name=f"send-{job_id}", daemon=True)
        self.current = rep
        log.info("job %s: replicating to %s", job_id, work.get("transit_endpoint"))
        rep.thread.start()

    def _replicate(self, rep: "Replication", work: "dict[str, Any]") -> None:
        try:
            spec = send_spec(self.state, work, connections=self.connections)
            result = self.sender(spec, stop=rep.stop)
        except SendError as exc:
            self._report(rep, exc.code, exc.message)
            return
        except OSError as exc:
            self._report(rep, "Agent.ReadError", f"{exc} / 读取源磁盘失败")
            return
        except Exception as exc:  # e.g. an unreadable partition table: never die silently
            log.exception("job %s: send crashed", rep.job_id)
            self._report(rep, "Agent.ReadError", f"{exc} / 读取源磁盘失败")
            return
        if result.completed:
            rep.completed_at = self.clock()
            log.info("job %s: all disks sent (%d bytes on the wire)", rep.job_id,
                     result.wire_bytes_sent)

    def _report(self, rep: "Replication", code: str, message: str) -> None:
        log.error("job %s failed: %s %s", rep.job_id, code, message)
        rep.completed_at = self.clock()
        if rep.stop.is_set():
            return  # the server paused the job; the error is only the interrupted stream
        try:
            # the server adds the fix hint for the code from its message catalogue
            self.api.report_error(job_id=rep.job_id, code=code, message=message)
        except AgentApiError as exc:
            log.warning("could not report the error: %s", exc)

    def _halt(self) -> None:
        cur = self.current
        if cur is not None:
            cur.stop.set()
            if cur.thread is not None:
                cur.thread.join(timeout=30)
        self.current = None


def run(state: AgentState, *, heartbeat_interval_s: float, stop: threading.Event,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S) -> None:
    """Entry point used by `rehost agent run`."""
    client = UrllibAgentClient(state.endpoint, token=state.agent_token, ca_file=state.ca_file)
    try:
        AgentLoop(state, client, heartbeat_interval_s=heartbeat_interval_s,
                  poll_interval_s=poll_interval_s).run(stop)
    finally:
        client.close()
