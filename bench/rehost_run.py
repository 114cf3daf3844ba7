"""One rehost migration of a disk over loopback TLS, transit in its own process."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rehost.agent.sender import send_job
from rehost.agent.sendspec import SendDisk, SendProgress, SendSpec
from rehost.pki import create_ca

BENCH_ROOT = Path(__file__).resolve().parents[1]  # holds the bench package


@dataclass(frozen=True)
class RunResult:
    """What one migration run measured."""

    elapsed_s: float
    wire_bytes: int
    raw_bytes: int
    plan_done_bytes: int
    completed: bool
    cpu_s: float  # agent (this process) + transit process, user + system
    read_bytes: int = 0  # read by the sending process (rchar), the transit's reads left out


def read_chars() -> int:
    """Bytes this process has read so far (/proc/self/io rchar; reaped children add theirs)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/io has no rchar line")


def _cpu_s() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def migrate(disk: Path, work: Path, *, compress_level: int, checksum: bool,
            bandwidth_limit_kbps: int = 0, stop_after_s: float | None = None,
            direct_io: bool = True, connections: int = 2, stdlib: bool = False) -> RunResult:
    """Start a transit process, run send_job against it, tear everything down.

    stdlib=True runs the send in a `python -I -S` child without xxhash and zstandard (the
    portable agent's blake2b-128 + zlib path); its CPU counts through RUSAGE_CHILDREN.
    """
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ca = create_ca(now=dt.datetime.now(dt.UTC))
    size = disk.stat().st_size
    job = {"ca_cert": ca.cert_pem.decode(), "ca_key": ca.key_pem.decode(), "token": "bench",
           "disks": [[0, size]], "work_dir": str(work / "job"), "checksum": checksum}
    (work / "job.json").write_text(json.dumps(job))
    cpu_before = _cpu_s()
    proc = subprocess.Popen([sys.executable, "-m", "bench.transit_proc", str(work / "job.json")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        spec = SendSpec(host="127.0.0.1", port=port, token="bench", agent_id="s-bench",
                        ca_pem=ca.cert_pem, disks=(SendDisk(0, disk, size),),
                        compress_level=compress_level, bandwidth_limit_kbps=bandwidth_limit_kbps,
                        direct_io=direct_io, connections=connections)
        os.sync()  # earlier runs' dirty pages must not be flushed during this one
        before = read_chars()
        result = _stdlib_send(spec, work) if stdlib else _timed_send(spec, stop_after_s)
        # counted before the transit is reaped: wait() adds a child's reads to its parent's
        result = replace(result, read_bytes=0 if stdlib else read_chars() - before)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return replace(result, cpu_s=_cpu_s() - cpu_before)


def _timed_send(spec: SendSpec, stop_after_s: float | None) -> RunResult:
    stop = threading.Event()
    last: list[SendProgress] = []
    timer = threading.Timer(stop_after_s, stop.set) if stop_after_s else None
    started = time.perf_counter()
    if timer:
        timer.start()
    result = send_job(spec, progress=last.append, stop=stop)
    elapsed = time.perf_counter() - started
    if timer:
        timer.cancel()
    done = sum(d.done_bytes for d in last[-1].disks) if last else 0
    return RunResult(elapsed, result.wire_bytes_sent, result.raw_bytes_sent, done,
                     result.completed, 0.0)


def _stdlib_send(spec: SendSpec, work: Path) -> RunResult:
    spec_file = work / "spec.pickle"
    spec_file.write_bytes(pickle.dumps(spec))
    src = str(Path(__file__).resolve().parents[1] / "src")
    code = (f"import sys; sys.path.insert(0, {src!r}); sys.path.insert(0, {str(BENCH_ROOT)!r});"
            " import runpy; runpy.run_module('bench.stdlib_send', run_name='__main__')")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(spec_file)],
                         capture_output=True, text=True, timeout=1800, check=True).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    return RunResult(float(doc["elapsed_s"]), int(doc["wire_bytes"]), int(doc["raw_bytes"]),
                     int(doc["done"]), bool(doc["completed"]), 0.0)
