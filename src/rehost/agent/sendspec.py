"""Values the sender takes and returns."""

from pathlib import Path
from typing import NamedTuple

from rehost.agent.reader import CHUNK_BYTES

# compress_level 1..10 of the job -> zstd level; 0 = no compression
ZSTD_LEVELS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8, 8: 11, 9: 15, 10: 19}


class SendDisk(NamedTuple):
    """A source disk to migrate: job disk index, device or image path, size."""

    index: int  # type: ignore[assignment]  # a field shadows tuple.index
    path: Path
    size_bytes: int


class SendSpec(NamedTuple):
    """Everything the agent needs to stream a job's disks to its transit."""

    host: str
    port: int
    token: str
    agent_id: str
    ca_pem: bytes
    disks: "tuple[SendDisk, ...]"
    server_hostname: str = ""  # name in the transit certificate; defaults to host
    compress_level: int = 0
    bandwidth_limit_kbps: int = 0
    connections: int = 2
    chunk_bytes: int = CHUNK_BYTES
    window_bytes: int = 64 * 1024 * 1024  # all connections together
    direct_io: bool = True
    reconnect_timeout_s: float = 600.0
    cycle: int = 0  # incremental jobs: ask the transit for a delta pass of this cycle

    def window_chunks_per_connection(self) -> int:
        """In-flight chunks allowed on each connection."""
        return max(1, self.window_bytes // self.chunk_bytes // max(1, self.connections))


class DiskSendProgress(NamedTuple):
    """Durable progress of one disk in bytes of the send plan."""

    index: int  # type: ignore[assignment]  # a field shadows tuple.index
    done_bytes: int
    total_bytes: int


class SendProgress(NamedTuple):
    """Snapshot passed to the progress callback."""

    disks: "tuple[DiskSendProgress, ...]"
    wire_bytes: int
    rate_bytes_per_s: float


class SendResult(NamedTuple):
    """What a send_job call did."""

    completed: bool
    raw_bytes_sent: int
    wire_bytes_sent: int
    chunks_sent: int
    zero_chunks: int
    resumed_bytes: int
    reconnects: int
    elapsed_s: float
    disk_digests: "dict[int, str]"


class SendError(Exception):
    """The job cannot continue (ERROR from the transit, unreadable disk, transit gone)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
