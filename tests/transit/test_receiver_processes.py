"""The data port of several receiver processes: real processes, real TLS, real files."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from rehost import wire
from rehost.agent.sender import send_job
from rehost.transit.limits import DataPortLimits
from rehost.transit.receivers import ReceiverProcesses
from rehost.wire import FrameType

from .harness import MIB, Rig, make_sparse_disk, same_bytes, transit_rig
from .peer import closed, connect, error_then_close, hello, wait_until

pytestmark = pytest.mark.xdist_group("receiver-processes")


def _processes(rig: Rig) -> ReceiverProcesses:
    assert isinstance(rig.pool, ReceiverProcesses)
    return rig.pool


def _send_all(rig: Rig, jobs: dict[str, Path]) -> None:
    """Send every job at once, each from its own agent thread; wait for all."""
    errors: list[BaseException] = []

    def send(token: str, src: Path) -> None:
        try:
            send_job(rig.send_spec(token, [(0, src)], chunk_bytes=MIB))
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t, s)) for t, s in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def test_jobs_spread_over_the_processes_and_arrive_byte_identical(tmp_path: Path) -> None:
    sources = {f"tok-{i}": make_sparse_disk(tmp_path / f"src-{i}.img", size_mib=24, seed=i)
               for i in range(4)}
    with transit_rig(tmp_path / "t", processes=2) as rig:
        specs = {tok: rig.add_job(tok, [(0, src)], job_id=f"j-{i}")
                 for i, (tok, src) in enumerate(sources.items())}
        _send_all(rig, sources)
        assert set(rig.control.done) == {s.job_id for s in specs.values()}
        for tok, spec in specs.items():
            assert same_bytes(sources[tok], rig.target(spec, 0))
        placed = _processes(rig).placement()
        assert sorted(placed) == sorted(s.job_id for s in specs.values())
        assert len(set(placed.values())) == 2, placed  # both processes got jobs
        assert os.getpid() not in placed.values()
        assert rig.control.progress, "progress crossed the link"


def test_a_killed_receiver_is_restarted_and_its_job_resumes(tmp_path: Path) -> None:
    src = make_sparse_disk(tmp_path / "src.img", size_mib=48)
    with transit_rig(tmp_path / "t", processes=2) as rig:
        spec = rig.add_job("tok", [(0, src)])
        spec_bytes = rig.send_spec("tok", [(0, src)], chunk_bytes=MIB, bandwidth_limit_kbps=8192)
        sender = threading.Thread(target=send_job, args=(spec_bytes,))
        sender.start()
        assert wait_until(lambda: "j-test" in _processes(rig).placement()
                          and bool(rig.control.progress), 20)
        victim = _processes(rig).placement()["j-test"]
        os.kill(victim, signal.SIGKILL)
        assert wait_until(lambda: "not running" in _processes(rig).problem(), 5)  # /readyz
        sender.join(120)
        assert wait_until(lambda: _processes(rig).problem() == "", 15)
        assert rig.control.finished.is_set()
        assert same_bytes(src, rig.target(spec, 0))
        assert _processes(rig).placement()["j-test"] != victim
        assert wait_until(lambda: len({r.proc.pid for r in _alive(rig)}) == 2, 10)


def _alive(rig: Rig) -> list[object]:
    return [r for r in _processes(rig)._receivers if r is not None]


def test_an_agent_offering_no_route_is_served(tmp_path: Path) -> None:
    """A raw client (no ALPN route: an older agent) reaches the first process and is served."""
    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(2 * MIB))
    with transit_rig(tmp_path / "t", processes=2) as rig:
        rig.add_job("tok", [(0, src)])
        sock, reader = hello(rig, "tok", 2 * MIB)  # tests/transit/peer: no ALPN offered
        sock.sendall(wire.pack_control(FrameType.DISK_DONE, {"index": "x"}))
        assert error_then_close(reader, sock) == "Wire.BadFrame"
        first = _processes(rig)._receivers[0]
        assert first is not None and _processes(rig).placement()["j-test"] == first.proc.pid


def test_caps_hold_for_the_port_as_a_whole(tmp_path: Path) -> None:
    limits = DataPortLimits(max_connections=8, max_connections_per_address=5,
                            hello_timeout_s=2.0)
    with transit_rig(tmp_path / "t", limits=limits, processes=2) as rig:
        held = [socket.create_connection(rig.pool.address, timeout=2) for _ in range(20)]
        time.sleep(0.5)
        assert rig.pool.open_connections() == 5
        for s in held:
            s.settimeout(0.2)
        assert len([s for s in held if closed(s)]) == 15
        for s in held:
            s.close()
        assert wait_until(lambda: rig.pool.open_connections() == 0)


def test_garbage_and_silence_before_tls_are_dropped(tmp_path: Path) -> None:
    with transit_rig(tmp_path / "t", limits=DataPortLimits(hello_timeout_s=0.5),
                     processes=2) as rig:
        garbage = socket.create_connection(rig.pool.address, timeout=3)
        garbage.sendall(b"GET / HTTP/1.0\r\n\r\n")
        silent = socket.create_connection(rig.pool.address, timeout=3)
        assert closed(garbage)
        started = time.monotonic()
        assert closed(silent)
        assert time.monotonic() - started < 2.5
        tls = connect(rig, timeout_s=5)  # the port still serves TLS afterwards
        tls.sendall(wire.pack_control(FrameType.HELLO, {"token": 5}))
        assert error_then_close(wire.FrameReader(tls, 1 << 16), tls) == "Wire.BadFrame"
        assert wait_until(lambda: rig.pool.open_connections() == 0)


def test_stop_ends_every_receiver_process(tmp_path: Path) -> None:
    with transit_rig(tmp_path / "t", processes=3) as rig:
        procs = [r.proc for r in _processes(rig)._receivers if r is not None]
        assert len(procs) == 3 and all(p.poll() is None for p in procs)
    assert all(p.poll() is not None for p in procs)
