"""Console render times with 500 jobs (server-side paging): prints ms per page, fails > 300 ms.

usage: .venv/bin/python bench/console_render.py [--jobs 500] [--repeat 20]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from console.inventory import make_inventory
from rehost.api.app import create_app
from rehost.config import Settings
from rehost.console import create_console_router
from rehost.domain.ids import AccountId
from rehost.domain.rules import JobRequest
from rehost.services import activation, agents, auth, bootstrap, jobs, runs
from rehost.services.context import ServiceContext

BUDGET_MS = 300.0


def populate(ctx: ServiceContext, account_id: AccountId, count: int) -> None:
    """Import `count` sources and give each one job; start every tenth (slot quota allows 10)."""
    code = activation.create_code(ctx, account_id, count=min(count, 1000))
    for i in range(count):
        result = agents.import_source(ctx, code_id=code.code.id, code=code.secret,
                                      inventory=make_inventory(f"host-{i:04d}"))
        job = jobs.create_job(ctx, account_id, source_id=result.source_id, region_id="local",
                              request=JobRequest(name=f"job-{i:04d}"))
        if i % 50 == 0:
            runs.start_job(ctx, account_id, job.id)


def measure(client: TestClient, path: str, repeat: int) -> tuple[float, float]:
    """Median and worst wall time of GET `path` in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times), max(times)


def main() -> int:
    """Build the data set, log in, time each page."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), print_credentials=False)
        ctx = bootstrap.open_context(settings)
        creds = bootstrap.ensure_admin(ctx)
        assert creds is not None
        account_id = auth.login(ctx, creds.account_name, creds.password)
        t0 = time.perf_counter()
        populate(ctx, account_id, args.jobs)
        print(f"populated {args.jobs} sources + jobs in {time.perf_counter() - t0:.1f} s")
        app = create_app(settings, context=ctx, routers=[create_console_router()])
        with TestClient(app) as client:
            page = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            client.post("/login", data={"account": creds.account_name,
                                        "password": creds.password, "csrf_token": token[1]})
            ids = ",".join(re.findall(r'data-job-id="([^"]+)"', client.get("/jobs").text))
            worst = 0.0
            for path in ("/sources", "/sources?page=25", "/jobs", "/jobs?page=25",
                         "/jobs?status=Running", f"/jobs/progress.json?ids={ids}",
                         "/images", "/regions", "/activation-codes"):
                median, peak = measure(client, path, args.repeat)
                worst = max(worst, median)
                print(f"{path[:40]:40s} median {median:6.1f} ms   max {peak:6.1f} ms")
        ctx.db.dispose()
    print(f"worst median {worst:.1f} ms (budget {BUDGET_MS:.0f} ms)")
    return 0 if worst < BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
