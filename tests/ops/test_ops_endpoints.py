"""/healthz, /readyz (each failure named), /metrics from the database, request ids, access log."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from rehost.api.app import create_app
from rehost.domain.models import DiskProgress, EventLevel
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus
from rehost.services import dataplane, jobs, regions, runs
from rehost.services.context import ServiceContext


class ListeningPool:
    """A transit pool stand-in whose data port is a real listening socket."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])

    def open(self, **_: Any) -> str:
        return f"127.0.0.1:{self.port}"

    def disconnect(self, **_: Any) -> None:
        """Nothing to drop."""

    def close(self, **_: Any) -> None:
        """Nothing to stop."""


@pytest.fixture
def client(ctl_ctx: ServiceContext) -> Iterator[TestClient]:
    # a loopback peer: /metrics answers only loopback clients without a metrics_token
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx),
                    client=("127.0.0.1", 50000)) as c:
        yield c


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by (name, sorted labels)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_healthz_answers_without_touching_anything(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_readyz_ready_then_each_failure_named(ctl_ctx: ServiceContext, ctl_account: Any,
                                             tmp_path: Path) -> None:
    pool = ListeningPool()
    settings = replace(ctl_ctx.settings, data_listen=f"127.0.0.1:{pool.port}")
    ctx = replace(ctl_ctx, settings=settings, transit_pool=pool)
    store = Path(regions.get_region(ctx, ctl_account.id, "local").image_store_path)
    with TestClient(create_app(settings, context=ctx)) as c:
        r = c.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"]["data_port"]["ok"] and r.json()["reason"] == ""
        pool.sock.close()
        r = c.get("/readyz")
        assert r.status_code == 503 and f"data port 127.0.0.1:{pool.port}" in r.json()["reason"]
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    store.parent.mkdir(parents=True, exist_ok=True)
    if store.exists():
        store.rename(tmp_path / "moved")
    store.symlink_to(blocker)
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx)) as c:
        r = c.get("/readyz")
    store.unlink()
    assert r.status_code == 503 and "image store not writable" in r.json()["reason"]
    assert r.json()["checks"]["database"]["ok"]


class HalfRunningReceivers:
    """A ListenerPool whose second receiver process is down (the router still listens)."""

    def disconnect_job(self, job_id: str) -> None:
        """Nothing to drop."""

    def release_job(self, job_id: str, work_dir: Path) -> None:
        """Nothing to delete."""

    def problem(self) -> str:
        return "receiver process 1 of 2 not running (being started again)"


def test_readyz_names_a_receiver_process_that_is_down(ctl_ctx: ServiceContext) -> None:
    from rehost.services.transit_control import SharedListenerPool

    listening = ListeningPool()
    settings = replace(ctl_ctx.settings, data_listen=f"127.0.0.1:{listening.port}")
    pool = SharedListenerPool(f"127.0.0.1:{listening.port}", HalfRunningReceivers())
    ctx = replace(ctl_ctx, settings=settings, transit_pool=pool)
    with TestClient(create_app(settings, context=ctx)) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert "receiver process 1 of 2 not running" in r.json()["checks"]["data_port"]["detail"]
    listening.sock.close()


def test_readyz_database_down(ctl_ctx: ServiceContext, tmp_path: Path) -> None:
    from rehost.db.engine import Database

    broken = Database(f"sqlite:///{tmp_path}/missing-dir/x.db")
    ctx = replace(ctl_ctx, db=broken)
    with TestClient(create_app(ctx.settings, context=ctx)) as c:
        r = c.get("/readyz")
    assert r.status_code == 503 and "database query failed" in r.json()["reason"]
    assert "image_store" not in r.json()["checks"]


def test_metrics_match_the_jobs_counters(client: TestClient, ctl_ctx: ServiceContext,
                                         ctl_account: Any, ctl_source: Any) -> None:
    src = ctl_source()
    job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest())
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    dataplane.set_business_status(ctl_ctx, job.id, BusinessStatus.SYNCING)
    dataplane.update_progress(ctl_ctx, job.id, [DiskProgress(0, 5000, 1234, 99.5, 10.0)])
    client.get("/api/v1/jobs")  # one unauthenticated request for the latency histogram
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = samples(r.text)
    assert got[("rehost_job_bytes_synced", (("job_id", job.id), ("status", "Running")))] == 1234
    assert got[("rehost_job_bytes_to_sync", (("job_id", job.id),))] == 5000
    assert got[("rehost_job_throughput_bytes_per_second", (("job_id", job.id),))] == 99.5
    assert got[("rehost_jobs", (("status", "Running"),))] >= 1
    assert got[("rehost_transit_slots_in_use", (("region_id", "local"),))] >= 1
    assert got[("rehost_sources", (("state", "InUse"),))] >= 1
    assert ("rehost_agent_last_heartbeat_timestamp_seconds",
            (("source_id", src.source_id),)) in got
    latency = ("rehost_api_request_duration_seconds_count",
               (("method", "GET"), ("route", "/api/v1/jobs"), ("status", "401")))
    assert got[latency] == 1


def test_request_id_header_and_access_log(client: TestClient,
                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rehost.access"):
        given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
        fresh = client.get("/api/v1/jobs", headers={"X-Request-Id": "x" * 129})
    assert given.headers["x-request-id"] == "abc-123"
    fresh_id = fresh.headers["x-request-id"]
    assert len(fresh_id) == 36 and fresh.json()["request_id"] == fresh_id
    lines = [r.__dict__ for r in caplog.records if r.name == "rehost.access"]
    assert [(r["path"], r["status"], r["request_id"]) for r in lines] == [
        ("/healthz", 200, "abc-123"), ("/api/v1/jobs", 401, fresh_id)]


def test_build_duration_from_the_event_log(client: TestClient, ctl_ctx: ServiceContext,
                                           ctl_account: Any, ctl_source: Any,
                                           ctl_clock: Any) -> None:
    src = ctl_source()
    job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest())
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    dataplane.sync_done(ctl_ctx, job.id)
    dataplane.log_event(ctl_ctx, job.id, level=EventLevel.INFO, code="Image.Building",
                        message_en="Building the image.", message_zh="正在构建镜像。")
    ctl_clock.advance(seconds=42)
    dataplane.finish_job(ctl_ctx, job.id, manifest={"disks": []})
    got = samples(client.get("/metrics").text)
    assert got[("rehost_image_build_duration_seconds_count", ())] == 1
    assert got[("rehost_image_build_duration_seconds_sum", ())] == 42.0
    assert got[("rehost_image_build_duration_seconds_bucket", (("le", "60.0"),))] == 1
    assert got[("rehost_image_build_duration_seconds_bucket", (("le", "30.0"),))] == 0
    assert got[("rehost_jobs", (("status", "Finished"),))] >= 1
