"""Control-plane load: 1,000 agents heartbeating every 30 s + 50 job describes/s.

Runs a real `python -m rehost.server` (uvicorn) on loopback, once on SQLite and once on
PostgreSQL (URL from REHOST_BENCH_DATABASE_URL or REHOST_TEST_DATABASE_URL; a fresh database is
created and dropped), and prints p50/p99 latency per request kind. Target: API p99 < 100 ms.
Latency is measured from each request's *scheduled* time (open loop), so queueing counts.

    .venv/bin/python -m bench.control_plane [--duration 40] [--agents 1000] [--describes 50]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

GIB = 1024**3
HEARTBEAT_S = 30.0


@dataclass(frozen=True)
class Target:
    """A running server and its admin AccessKey."""

    base: str
    auth: tuple[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(database_url: str) -> Iterator[Target]:
    """Start `python -m rehost.server` in a temp data dir; yield its URL and credentials."""
    with tempfile.TemporaryDirectory(prefix="rehost-bench-") as tmp:
        port = _free_port()
        env = {**os.environ, "REHOST_DATABASE_URL": database_url}
        log = Path(tmp) / "server.log"
        with log.open("ab") as out:  # a pipe nobody reads fills up and blocks the access log
            proc = subprocess.Popen(
                [sys.executable, "-m", "rehost.server", "--data-dir", tmp,
                 "--listen", f"127.0.0.1:{port}"],
                env=env, stdout=subprocess.DEVNULL, stderr=out,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base, proc, log)
            creds = json.loads((Path(tmp) / "admin-credentials.json").read_text())
            yield Target(base, (creds["access_key_id"], creds["access_key_secret"]))
        finally:
            proc.terminate()
            proc.wait(15)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy in 60 s")


def _inventory(i: int) -> dict[str, Any]:
    disk = {"index": 0, "path": "/dev/vda", "size_bytes": 40 * GIB, "used_bytes": 6 * GIB,
            "min_size_bytes": 10 * GIB, "shrink_note": "", "partition_table": "gpt",
            "partitions": []}
    return {"hostname": f"host-{i:04d}", "os_name": "Debian", "os_version": "12",
            "kernel": "6.1.0", "arch": "x86_64", "boot_mode": "UEFI", "agent_version": "0.1.0",
            "disks": [disk]}


def populate(t: Target, agents: int, jobs: int) -> tuple[list[str], list[str]]:
    """Import `agents` sources and create `jobs` jobs (10 started); return tokens and job ids."""
    with httpx.Client(base_url=t.base, auth=t.auth, timeout=30) as c:
        tokens, sources = [], []
        for i in range(agents):
            if i % 1000 == 0:  # an activation code admits at most 1,000 imports
                code = c.post("/api/v1/activation-codes",
                              json={"count": 1000, "ttl_days": 1}).json()
            r = c.post("/api/v1/agent/import", json={
                "code_id": code["code_id"], "code": code["code"], "inventory": _inventory(i)})
            r.raise_for_status()
            tokens.append(r.json()["agent_token"])
            sources.append(r.json()["source_id"])
        job_ids = []
        for i in range(min(jobs, agents)):
            r = c.post("/api/v1/jobs", json={"source_id": sources[i], "name": f"bench-{i}"})
            r.raise_for_status()
            job_ids.append(r.json()["job_id"])
        c.post("/api/v1/jobs/start", json={"job_ids": job_ids[:10]}).raise_for_status()
    return tokens, job_ids


class Load:
    """Open-loop request schedule executed by a thread pool; records latencies by kind."""

    def __init__(self, t: Target, tokens: list[str], job_ids: list[str]) -> None:
        self.t, self.tokens, self.job_ids = t, tokens, job_ids
        self.local = threading.local()
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=48)

    def reset(self) -> None:
        """Forget the latencies recorded so far (after the warm-up)."""
        self.lat.clear()
        self.errors.clear()

    def close(self) -> None:
        """Wait for the workers to finish."""
        self.pool.shutdown(wait=True)

    def _client(self) -> httpx.Client:
        if not hasattr(self.local, "c"):
            self.local.c = httpx.Client(base_url=self.t.base, timeout=10)
        client: httpx.Client = self.local.c
        return client

    def _do(self, kind: str, arg: int, due: float) -> None:
        c = self._client()
        if kind == "heartbeat":
            r = c.post("/api/v1/agent/heartbeat", json={},
                       headers={"Authorization": f"Bearer {self.tokens[arg]}"})
        elif kind == "describe_job":
            r = c.get(f"/api/v1/jobs/{self.job_ids[arg % len(self.job_ids)]}", auth=self.t.auth)
        else:
            r = c.get("/api/v1/jobs", params={"page_size": 10}, auth=self.t.auth)
        elapsed = time.monotonic() - due
        with self.lock:
            self.lat[kind].append(elapsed)
            if r.status_code >= 400:
                self.errors[kind] += 1

    def schedule(self, duration_s: float, describes_per_s: float) -> list[tuple[float, str, int]]:
        """(offset, kind, arg) for the whole run, sorted."""
        n = len(self.tokens)
        plan = [(i * HEARTBEAT_S / n + k * HEARTBEAT_S, "heartbeat", i)
                for i in range(n) for k in range(int(duration_s // HEARTBEAT_S) + 1)]
        plan += [(k / describes_per_s, "describe_job" if k % 2 else "list_jobs", k)
                 for k in range(int(duration_s * describes_per_s))]
        return sorted(p for p in plan if p[0] < duration_s)

    def run(self, duration_s: float, describes_per_s: float) -> None:
        """Fire every request at its scheduled time."""
        plan = self.schedule(duration_s, describes_per_s)
        start = time.monotonic()
        futures = []
        for offset, kind, arg in plan:
            due = start + offset
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(self.pool.submit(self._do, kind, arg, due))
        for future in futures:
            future.result()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(name: str, load: Load, duration_s: float) -> bool:
    """Print p50/p99 per kind and overall; return whether overall p99 < 100 ms."""
    every = [v for vs in load.lat.values() for v in vs]
    print(f"\n== {name}: {len(every)} requests in {duration_s:.0f} s "
          f"({len(every) / duration_s:.0f}/s)")
    for kind, vs in sorted(load.lat.items()):
        print(f"  {kind:13s} n={len(vs):6d}  p50={_pct(vs, .5):6.1f} ms  "
              f"p99={_pct(vs, .99):6.1f} ms  errors={load.errors[kind]}")
    p99 = _pct(every, .99)
    print(f"  {'ALL':13s} n={len(every):6d}  p50={_pct(every, .5):6.1f} ms  p99={p99:6.1f} ms"
          f"  -> {'OK' if p99 < 100 else 'ABOVE'} target p99 < 100 ms")
    return p99 < 100 and not any(load.errors.values())


def bench(name: str, url: str, args: argparse.Namespace) -> bool:
    """Populate a fresh server and run the load once."""
    with server(url) as t:
        t0 = time.monotonic()
        tokens, job_ids = populate(t, args.agents, args.jobs)
        print(f"{name}: imported {len(tokens)} sources, {len(job_ids)} jobs in "
              f"{time.monotonic() - t0:.1f} s; running load for {args.duration:.0f} s …")
        load = Load(t, tokens, job_ids)
        load.run(5.0, args.describes)  # warm-up: threads, connections, server caches
        load.reset()
        load.run(args.duration, args.describes)
        load.close()
        return report(name, load, args.duration)


@contextmanager
def fresh_pg_database(base_url: str) -> Iterator[str]:
    """Create a throw-away database next to `base_url`'s; yield its URL; drop it."""
    import psycopg

    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    admin = plain.rsplit("/", 1)[0] + "/postgres"
    name = "rehost_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield plain.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Run the SQLite and PostgreSQL benches."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=40.0)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--describes", type=float, default=50.0)
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--only", choices=["sqlite", "postgres"])
    args = ap.parse_args()
    ok = True
    if args.only != "postgres":
        ok &= bench("SQLite", "", args)
    pg = os.environ.get("REHOST_BENCH_DATABASE_URL") or os.environ.get("REHOST_TEST_DATABASE_URL")
    if args.only != "sqlite":
        if not pg:
            print("\nPostgreSQL: skipped (set REHOST_TEST_DATABASE_URL; "
                  "bash scripts/start-postgres.sh prints one)")
        else:
            with fresh_pg_database(pg) as url:
                ok &= bench("PostgreSQL", url, args)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
