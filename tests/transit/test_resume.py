"""Resume after a killed sender and after dropped connections: at most one window re-sent."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from rehost.agent.sender import send_job
from rehost.transit.fake import FakeTransitControl
from rehost.transit.ports import DiskDigest

from .harness import MIB, Rig, same_bytes, transit_rig
from .proxy import CuttingProxy

CHUNK = 1 * MIB
WINDOW = 8 * MIB


def _random_disk(path: Path, size_mib: int) -> Path:
    path.write_bytes(os.urandom(size_mib * MIB))
    return path


def _wait_progress(rig: Rig, job_id: str, fraction: float, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = [p for p in rig.control.progress if p.job_id == job_id]
        if done and all(d.done_bytes >= fraction * d.total_bytes for d in done[-1].disks):
            return
        time.sleep(0.02)
    raise AssertionError("transfer made no progress")


def test_sigkill_of_sender_resends_at_most_one_window(tmp_path: Path) -> None:
    src = _random_disk(tmp_path / "src.img", 48)
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)])
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, window_bytes=WINDOW,
                             bandwidth_limit_kbps=16 * 1024)
        spec_file = tmp_path / "spec.pickle"
        spec_file.write_bytes(pickle.dumps(spec))
        child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("sender_proc.py")),
                                  str(spec_file)])
        try:
            _wait_progress(rig, job.job_id, 0.4)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        before = rig.pool.stats(job.job_id)
        assert before is not None and before.received_bytes < src.stat().st_size
        result = send_job(spec._replace(bandwidth_limit_kbps=0))
        after = rig.pool.stats(job.job_id)
        assert after is not None
        assert result.completed and result.resumed_bytes >= 0.4 * src.stat().st_size
        assert 0 <= after.duplicate_bytes <= WINDOW
        assert same_bytes(src, rig.target(job, 0))


def test_dropped_connections_are_resumed(tmp_path: Path) -> None:
    src = _random_disk(tmp_path / "src.img", 48)
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)], checksum=True)
        proxy = CuttingProxy(rig.pool.address)
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, window_bytes=WINDOW,
                             bandwidth_limit_kbps=24 * 1024)._replace(port=proxy.port)
        cutter = threading.Thread(target=lambda: (_wait_progress(rig, job.job_id, 0.5),
                                                  proxy.cut()))
        cutter.start()
        try:
            result = send_job(spec)
        finally:
            cutter.join()
            proxy.close()
        stats = rig.pool.stats(job.job_id)
        assert result.completed and result.reconnects >= 1
        assert stats is not None and stats.duplicate_bytes <= WINDOW
        assert proxy.connections >= 3  # the probe, two data connections, then reconnections
        assert same_bytes(src, rig.target(job, 0))
        assert rig.control.done[job.job_id][0].digest_hex == result.disk_digests[0]


class FirstSyncDoneFails(FakeTransitControl):
    """The first sync-done cannot reach the control plane: the transit drops the connection
    after the disk is journaled done and before DISK_OK (as a transit killed right then)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def sync_done(self, job_id: str, digests: tuple[DiskDigest, ...]) -> None:
        if not self.refused:
            self.refused += 1
            raise OSError("control plane unreachable")
        super().sync_done(job_id, digests)


def test_a_connection_lost_before_disk_ok_is_opened_again_and_the_job_finishes(
    tmp_path: Path,
) -> None:
    src = _random_disk(tmp_path / "src.img", 8)
    control = FirstSyncDoneFails()
    with transit_rig(tmp_path / "transit", control=control) as rig:
        job = rig.add_job("tok", [(0, src)])
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, window_bytes=WINDOW)
        result = send_job(spec)
        assert result.completed and result.reconnects >= 1
        # the transit tells the control plane just after the new HELLO_OK (nothing pending)
        assert control.finished.wait(10) and control.refused == 1 and job.job_id in control.done
        assert same_bytes(src, rig.target(job, 0))
