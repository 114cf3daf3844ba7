"""The agent's main loop: heartbeat, poll for work, run one replication at a time."""

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from rehost.agent.apiclient import AgentApiError, UrllibAgentClient
from rehost.agent.command import CommandError
from rehost.agent.livecopy import LiveCopy, LiveSettings, clean_stale, live_copy
from rehost.agent.sender import send_job
from rehost.agent.sendspec import SendDisk, SendError, SendSpec
from rehost.agent.state import AgentState
from rehost.protocol.etag import etag_of
from rehost.protocol.work import DiskTask, WorkItem

if TYPE_CHECKING:  # typing.Protocol is Python 3.8+; the agent runs on 3.6
    from typing import Protocol  # novermin: type checking only
else:
    Protocol = object

log = logging.getLogger(__name__)
DEFAULT_POLL_INTERVAL_S = 3.0
# a long poll holds the answer up to this long (bounded so that a stop takes effect quickly)
LONG_POLL_S = 5.0
# after a completed send, give the transit this long to move the job on before sending again
RESEND_GRACE_S = 30.0


class AgentApi(Protocol):
    """What the loop needs from the server (AgentClient, or a fake in tests)."""

    def heartbeat(self, *, inventory: "dict[str, object] | None" = None) -> object: ...
    def poll_work(self, *, wait_s: float = 0.0, known: str = "") -> "WorkItem": ...
    def report_error(self, *, job_id: str, code: str, message: str,
                     hint: str = "", hint_zh: str = "") -> object: ...


Sender = Callable[..., Any]
LiveFactory = Callable[["tuple[SendDisk, ...]", LiveSettings], LiveCopy]


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


def disk_path(state: AgentState, task: "DiskTask") -> Path:
    """The device or image file of a job disk: image-file mode maps by index."""
    index = task.index
    if state.system_disk:
        paths = [state.system_disk, *state.data_disks]
        if index < len(paths):
            return Path(paths[index])
    if task.path:
        return Path(task.path)
    raise SendError("Agent.DiskNotFound",
                    f"disk {index} of the job is not known to this agent / 代理找不到磁盘 {index}")


def send_spec(state: AgentState, work: "WorkItem", *, connections: int) -> SendSpec:
    """Build the sender's spec from a `replicate` work item."""
    host, port = split_endpoint(work.transit_endpoint)
    ca_pem = Path(state.server_ca_file).read_bytes() if state.server_ca_file else b""
    disks = tuple(SendDisk(index=d.index, path=disk_path(state, d), size_bytes=d.size_bytes)
                  for d in work.disks)
    return SendSpec(
        host=host, port=port, token=work.data_token, agent_id=state.source_id,
        ca_pem=ca_pem, disks=disks, compress_level=work.compress_level,
        bandwidth_limit_kbps=work.bandwidth_limit_kbps, connections=connections,
        cycle=work.cycle,
    )


class AgentLoop:
    """Heartbeats every interval, polls every poll interval, starts/stops replications."""

    def __init__(self, state: AgentState, api: AgentApi, *, heartbeat_interval_s: float,
                 poll_interval_s: float = DEFAULT_POLL_INTERVAL_S, connections: int = 2,
                 sender: Sender = send_job, clock: "Callable[[], float]" = time.monotonic,
                 live: "LiveSettings | None" = None, live_factory: LiveFactory = live_copy
                 ) -> None:
        self.state, self.api, self.sender, self.clock = state, api, sender, clock
        self.live, self.live_factory = live or LiveSettings(), live_factory
        self.heartbeat_interval_s = heartbeat_interval_s
        self.poll_interval_s = min(poll_interval_s, heartbeat_interval_s)
        self.connections = connections
        self.current: Replication | None = None
        self._last_beat = float("-inf")
        self._known = ""  # tag of the last answer: the server holds the next until it differs
        self._last: Optional[WorkItem] = None
        self._long_poll = True  # until a server shows it answers at once (an older server)

    def run(self, stop: threading.Event) -> None:
        """Loop until stop is set; stops the running replication on the way out."""
        try:
            while not stop.is_set():
                if not self.step():
                    stop.wait(self.poll_interval_s)
        finally:
            self._halt()

    def step(self) -> bool:
        """One round: heartbeat when due, then poll and act on the answer.

        Returns True when the poll was a long poll the server held (or that brought news):
        the next poll can follow at once. False: wait the poll interval first.
        """
        try:
            if self.clock() - self._last_beat >= self.heartbeat_interval_s:
                self.api.heartbeat()
                self._last_beat = self.clock()
            wait = self._poll_wait()
            started = self.clock()
            work = self.api.poll_work(wait_s=wait, known=self._known) if wait else \
                self.api.poll_work()
        except AgentApiError as exc:
            log.warning("server refused or unreachable: %s", exc)
            return False
        changed, self._last = work != self._last, work
        self._known = etag_of(work.to_json())
        if wait >= 1.0 and not changed and self.clock() - started < wait / 2:
            # an older server (or one whose tag differs from ours) answers at once: a timer
            self._long_poll = False
            log.info("the server does not hold polls; polling every %.1f s", self.poll_interval_s)
        self.act(work)
        return self._long_poll

    def _poll_wait(self) -> float:
        """How long the server may hold this poll: never past the next heartbeat."""
        if not self._long_poll or not self._known:
            return 0.0  # the first poll answers at once and gives the tag to wait on
        until_beat = self.heartbeat_interval_s - (self.clock() - self._last_beat)
        return max(0.0, min(LONG_POLL_S, until_beat))

    def act(self, work: "WorkItem") -> None:
        """Start, keep or stop the replication to match the server's instruction."""
        action, job_id = work.action, work.job_id or ""
        cur = self.current
        if action != "replicate":
            if cur is not None and cur.is_alive():
                log.info("job %s: %s from the server; stopping the send", cur.job_id, action)
            self._halt()
            return
        same = (cur is not None and cur.job_id == job_id and cur.token == work.data_token
                and cur.cycle == work.cycle)
        if same and cur is not None and (
                cur.is_alive() or self.clock() - cur.completed_at < RESEND_GRACE_S):
            return
        self._halt()
        self._start(work, job_id)

    def _start(self, work: "WorkItem", job_id: str) -> None:
        rep = Replication(job_id=job_id, token=work.data_token, cycle=work.cycle)
        rep.thread = threading.Thread(target=self._replicate, args=(rep, work),
                                      name=f"send-{job_id}", daemon=True)
        self.current = rep
        log.info("job %s: replicating to %s", job_id, work.transit_endpoint)
        rep.thread.start()

    def _replicate(self, rep: "Replication", work: "WorkItem") -> None:
        try:
            spec = send_spec(self.state, work, connections=self.connections)
            result = self._send(spec, rep)
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

    def _send(self, spec: SendSpec, rep: "Replication") -> Any:
        """Send, reading mounted volumes through snapshots or with a catch-up under freeze."""
        live = self.live_factory(spec.disks, self.live)
        if not live.active:
            return self.sender(spec, stop=rep.stop)
        try:
            try:
                disks = live.setup()
            except (CommandError, OSError, ValueError) as exc:
                raise SendError("Agent.LiveCopySetup",
                                f"cannot prepare the consistent copy of the mounted volumes: "
                                f"{exc} / 无法为已挂载的卷准备一致性复制：{exc}") from exc
            for index, lines in sorted(live.notes.items()):
                for line in lines:
                    log.info("job %s disk %d: %s", rep.job_id, index, line)
            return self.sender(spec._replace(disks=disks), stop=rep.stop, live=live,
                               notes=live.notes)
        finally:
            live.release()

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
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        live: "LiveSettings | None" = None) -> None:
    """Entry point used by `rehost agent run`."""
    live = live or LiveSettings()
    for item in clean_stale(run_dir=live.run_dir):
        log.warning("removed the %s a previous agent left behind", item)
    client = UrllibAgentClient(state.endpoint, token=state.agent_token, ca_file=state.ca_file)
    try:
        AgentLoop(state, client, heartbeat_interval_s=heartbeat_interval_s,
                  poll_interval_s=poll_interval_s, live=live).run(stop)
    finally:
        client.close()
