"""`rehost transit run`: a transit receiver on another host of a region.

Registers once with an AccessKey (host token, certificate and key kept in `--state-dir`,
mode 0600), then runs `ReceiverPool` (or, with `--receivers` of 2 or more, the default on a
multi-core host, `ReceiverProcesses`) on `--data-listen` with `RemoteTransitControl`, a loop
thread (heartbeat; work poll: disconnect paused jobs, delete released work dirs and deleted
images, build images) and one build thread per job in Processing, into `--image-store`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rehost.pki import IssuedCert
from rehost.privatefile import write_private
from rehost.protocol.hostapi import Registration, WorkOrders, heartbeat_interval
from rehost.transit.buildpause import pause_from_env
from rehost.transit.hostbuild import HostBuilder
from rehost.transit.limits import DataPortLimits, receiver_count
from rehost.transit.receivers import receiving_pool
from rehost.transit.remote import HostApi, HostApiError, RemoteTransitControl
from rehost.wire import WireError

log = logging.getLogger(__name__)
STATE_FILE = "transit-host.json"


@dataclass(frozen=True, slots=True)
class HostConfig:
    """Command-line settings of `rehost transit run`."""

    endpoint: str
    region_id: str
    data_listen: tuple[str, int]
    advertise: str
    work_dir: Path
    image_store: Path
    state_dir: Path
    name: str = ""
    poll_interval_s: float = 0.5
    data_port_limits: DataPortLimits = field(default_factory=DataPortLimits)
    receivers: int = 0  # receiver processes (1: this process; 0: auto, one per core up to 4)

    @property
    def data_endpoint(self) -> str:
        """`advertise:port` handed to agents."""
        return f"{self.advertise}:{self.data_listen[1]}"


@dataclass(frozen=True, slots=True)
class HostState:
    """What registration returned (kept in the state dir)."""

    host_id: str
    host_token: str
    cert_pem: str
    key_pem: str
    ca_pem: str
    data_endpoint: str
    heartbeat_interval_s: float


Register = Callable[[str, str, str], dict[str, object]]  # (region, name, endpoint) -> answer


def load_or_register(config: HostConfig, register: Register) -> HostState:
    """The saved registration for this endpoint, else register now and save it (0600)."""
    path = config.state_dir / STATE_FILE
    if path.exists():
        state = HostState(**json.loads(path.read_text()))
        if state.data_endpoint == config.data_endpoint:
            return state
    name = config.name or f"transit-{config.advertise}"
    doc = register(config.region_id, name, config.data_endpoint)
    reg = Registration.from_json(doc)
    state = HostState(host_id=reg.host_id, host_token=reg.host_token, cert_pem=reg.cert_pem,
                      key_pem=reg.key_pem, ca_pem=reg.ca_pem, data_endpoint=config.data_endpoint,
                      heartbeat_interval_s=reg.heartbeat_interval_s)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(asdict(state)))
    return state


class TransitHostRunner:
    """The running host: pool, control, builder and the heartbeat/work loop."""

    def __init__(self, config: HostConfig, state: HostState, *, verify: str | bool = True) -> None:
        self.config, self.state = config, state
        config.work_dir.mkdir(parents=True, exist_ok=True)
        config.image_store.mkdir(parents=True, exist_ok=True)
        self.api = HostApi(config.endpoint, state.host_token, verify=verify)
        self.control = RemoteTransitControl(self.api, config.work_dir)
        cert = IssuedCert(state.cert_pem.encode(), state.key_pem.encode())
        host, port = config.data_listen
        self.pool = receiving_pool(control=self.control, cert=cert, host=host, port=port,
                                   limits=config.data_port_limits,
                                   processes=receiver_count(config.receivers, os.cpu_count()))
        self.builder = HostBuilder(self.api, self.control, config.work_dir, config.image_store,
                                   pause=pause_from_env(os.environ))  # test-only, unset in use
        self._stop = threading.Event()
        self._interval = state.heartbeat_interval_s

    def run(self) -> None:
        """Serve until stop(): the pool in its threads, the loop in this one."""
        self.pool.start()
        log.info("transit host %s: data port %s:%d (advertised as %s)", self.state.host_id,
                 *self.pool.address, self.config.data_endpoint)
        next_beat = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + self._beat()
                self._poll()
                self._stop.wait(self.config.poll_interval_s)
        finally:
            self.pool.stop()
            self.api.close()

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stop.set()

    def _beat(self) -> float:
        try:
            doc = self.api.post("heartbeat")
            self._interval = heartbeat_interval(doc, self._interval)
        except (HostApiError, WireError) as exc:
            log.warning("heartbeat failed: %s", exc)
        return self._interval

    def _poll(self) -> None:
        have = sorted(d.name for d in self.config.work_dir.iterdir() if d.is_dir())
        images = self.builder.stored_images()
        try:
            todo = WorkOrders.from_json(self.api.post("work", {"transits": have,
                                                               "images": images}))
        except (HostApiError, WireError) as exc:
            log.warning("work poll failed: %s", exc)
            return
        for job_id in todo.disconnect:
            self.pool.disconnect_job(job_id)
        for item in todo.release:
            log.info("releasing transit %s", item.transit_id)
            self.pool.release_job(item.job_id, self.config.work_dir / item.transit_id)
        for order in todo.build:
            self.builder.submit(order)
        for image_id in self.builder.delete_images(list(todo.delete_images)):
            log.info("deleted image %s (removed from the catalogue)", image_id)


def utcnow() -> datetime:
    """Current time, aware UTC."""
    return datetime.now(UTC)
