"""A real transit (TLS on loopback, real files) plus helpers to build sparse source disks."""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rehost.agent.sendspec import SendDisk, SendSpec
from rehost.pki import (
    CertificateAuthority,
    create_ca,
    issue_transit_cert,
    transit_server_context,
)
from rehost.transit.fake import FakeTransitControl
from rehost.transit.limits import DataPortLimits
from rehost.transit.pool import ReceiverPool
from rehost.transit.ports import TransitDisk, TransitJobSpec
from rehost.transit.receivers import ReceiverProcesses
from rehost.transit.session import target_disk_path

MIB = 1024 * 1024
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@dataclass
class Rig:
    """A started ReceiverPool with a fake control plane."""

    pool: ReceiverPool | ReceiverProcesses
    control: FakeTransitControl
    ca: CertificateAuthority
    root: Path

    def add_job(self, token: str, disks: list[tuple[int, Path]], *, checksum: bool = False,
                job_id: str = "j-test") -> TransitJobSpec:
        """Register a job receiving the given source disks."""
        tdisks = tuple(TransitDisk(i, p.stat().st_size, p.stat().st_size) for i, p in disks)
        spec = TransitJobSpec(job_id, self.root / job_id, tdisks, checksum)
        self.control.add_job(token, spec)
        return spec

    def send_spec(self, token: str, disks: list[tuple[int, Path]], **kw: Any) -> SendSpec:
        """A SendSpec aimed at this rig."""
        _host, port = self.pool.address
        sdisks = tuple(SendDisk(i, p, p.stat().st_size) for i, p in disks)
        return SendSpec(host="127.0.0.1", port=port, token=token, agent_id="s-test",
                        ca_pem=self.ca.cert_pem, disks=sdisks, **kw)

    def target(self, spec: TransitJobSpec, index: int) -> Path:
        """Path of a target disk."""
        return target_disk_path(spec.work_dir, index)


@contextmanager
def transit_rig(root: Path, *, port: int = 0, limits: DataPortLimits | None = None,
                control: FakeTransitControl | None = None, processes: int = 1) -> Iterator[Rig]:
    """Start a transit pool on 127.0.0.1 with a fresh CA (and the given control plane).

    processes > 1: the data port of that many receiver processes (`ReceiverProcesses`).
    """
    ca = create_ca(now=NOW)
    cert = issue_transit_cert(ca, ["127.0.0.1", "localhost"], now=NOW)
    control = control or FakeTransitControl()
    pool: ReceiverPool | ReceiverProcesses = (
        ReceiverPool(control=control, ssl_context=transit_server_context(cert),
                     host="127.0.0.1", port=port, limits=limits) if processes == 1
        else ReceiverProcesses(control=control, cert=cert, host="127.0.0.1", port=port,
                               limits=limits or DataPortLimits(), processes=processes))
    pool.start()
    try:
        yield Rig(pool, control, ca, root)
    finally:
        pool.stop()


def make_sparse_disk(path: Path, *, size_mib: int = 64, seed: int = 1) -> Path:
    """A sparse image: random and text regions, an allocated zero region, holes, odd tail."""
    rng = random.Random(seed)
    size = size_mib * MIB + 3 * 512  # not a multiple of the chunk size
    text = b"".join(b"line %d of some compressible text\n" % i for i in range(200_000))
    with path.open("wb") as f:
        f.truncate(size)
        f.seek(0)
        f.write(rng.randbytes(MIB + 4096))
        f.seek(9 * MIB + 512)
        f.write(text[: 5 * MIB])
        f.seek(20 * MIB)
        f.write(bytes(6 * MIB))  # allocated zeros: sent as ZERO frames
        f.seek(40 * MIB - 8192)
        f.write(rng.randbytes(3 * MIB))
        f.seek(size - 1000)
        f.write(rng.randbytes(1000))
    return path


def same_bytes(a: Path, b: Path) -> bool:
    """Whether two files have identical size and content."""
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(8 * MIB), fb.read(8 * MIB)
            if x != y:
                return False
            if not x:
                return True


def whole_file_planner(path: str) -> list[Any]:
    """A plan covering the whole file (for tests that do not want hole detection)."""
    from rehost.diskfmt import Extent

    return [Extent(0, os.path.getsize(path))]
