"""/metrics scraped during a real migration: the byte counter follows and then equals the job's."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from diskfactory import BuiltDisk
from e2e.harness import Server

LIMIT_KBPS = 6 * 1024  # slow enough to be scraped mid-sync, fast enough for a short test


def job_sample(server: Server, name: str, job_id: str) -> float | None:
    """One per-job sample of a fresh scrape (None when absent)."""
    text = httpx.get(f"{server.endpoint}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("job_id") == job_id:
                return float(sample.value)
    return None


def test_metrics_follow_a_migration(start_server: Callable[..., Server],
                                    e2e_mbr_disk: BuiltDisk) -> None:
    server = start_server(env={"REHOST_LOG_FORMAT": "json"})
    ready = httpx.get(f"{server.endpoint}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["data_port"]["ok"], ready.text
    agent = server.import_agent(server.work / "agent", system_disk=e2e_mbr_disk.path)
    agent.start()
    job_id = server.create_job(agent.source_id, bandwidth_limit=LIMIT_KBPS)
    before = server.wait_progress(job_id, 0.2, timeout_s=120)
    scraped = job_sample(server, "rehost_job_bytes_synced", job_id)
    after = server.job(job_id)
    assert scraped is not None and before["bytes_done"] <= scraped <= after["bytes_done"]
    assert scraped < after["bytes_total"]  # really scraped mid-migration
    assert job_sample(server, "rehost_job_bytes_to_sync", job_id) == after["bytes_total"]
    doc = server.wait_job(job_id, {"Finished"}, timeout_s=180)
    assert job_sample(server, "rehost_job_bytes_synced", job_id) == doc["bytes_done"] > 0
    text = httpx.get(f"{server.endpoint}/metrics", timeout=10).text
    assert 'rehost_jobs{status="Finished"} 1.0' in text
    assert "rehost_image_build_duration_seconds_count 1.0" in text
    assert "rehost_api_request_duration_seconds_bucket" in text
    assert_logs(server)


def assert_logs(server: Server) -> None:
    """The server said where it listens, and wrote JSON access lines with request ids."""
    log = (server.work / "server.log").read_text()
    assert f"rehost: API and console on http://127.0.0.1:{server.port}" in log
    assert f"rehost: transit data port on 127.0.0.1:{server.data_port}" in log
    lines = [json.loads(x) for x in log.splitlines() if x.startswith('{"time"')]
    access = [x for x in lines if x["logger"] == "rehost.access"]
    assert any(x["path"] == "/metrics" and x["status"] == 200 for x in access)
    assert all(len(x["request_id"]) == 36 for x in access)
