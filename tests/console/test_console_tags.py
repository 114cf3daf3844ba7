"""Tags in the console over HTTP: a job's and a source's tags shown, added, removed, and the
job and source lists filtered by tag."""

from __future__ import annotations

from fastapi.testclient import TestClient

from console.conftest import csrf_of, import_source
from rehost.domain.rules import JobRequest
from rehost.services import auth, jobs
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

Ctx = tuple[ServiceContext, AdminCredentials]


def _job(ctx: ServiceContext, creds: AdminCredentials, hostname: str) -> tuple[str, str]:
    account = auth.login(ctx, creds.account_name, creds.password).account_id
    source_id = import_source(ctx, account, hostname)
    job = jobs.create_job(ctx, account, source_id=source_id, region_id="local",
                          request=JobRequest())
    return source_id, job.id


def test_job_tags_edit_and_filter(console_ctx: Ctx, client: TestClient) -> None:
    ctx, creds = console_ctx
    _, job_id = _job(ctx, creds, "tag-web")
    _, other_id = _job(ctx, creds, "tag-db")
    page = client.get(f"/tags/job/{job_id}")
    assert page.status_code == 200 and 'id="tags-empty"' in page.text
    csrf = csrf_of(page.text)
    client.post(f"/tags/job/{job_id}", data={"csrf_token": csrf, "key": "team", "value": "web"})
    tagged = client.get(f"/tags/job/{job_id}").text
    assert 'data-tag-key="team"' in tagged
    listing = client.get("/jobs?tag=team=web").text
    assert f'data-job-id="{job_id}"' in listing and f'data-job-id="{other_id}"' not in listing
    assert "team=web" in listing
    assert f'data-job-id="{job_id}"' in client.get("/jobs?tag=team").text
    assert 'data-job-id="' not in client.get("/jobs?tag=team=db").text
    bad = client.post(f"/tags/job/{job_id}", data={"csrf_token": csrf, "key": "aliyun:x",
                                                   "value": ""})
    assert "InvalidParameter.TagKey" in bad.text
    client.post(f"/tags/job/{job_id}/remove", data={"csrf_token": csrf, "key": "team"})
    assert 'id="tags-empty"' in client.get(f"/tags/job/{job_id}").text
    assert client.get("/tags/disk/x").status_code == 404


def test_source_tags_shown_and_filtered(console_ctx: Ctx, client: TestClient) -> None:
    ctx, creds = console_ctx
    source_id, _ = _job(ctx, creds, "tag-src")
    csrf = csrf_of(client.get(f"/tags/source/{source_id}").text)
    client.post(f"/tags/source/{source_id}", data={"csrf_token": csrf, "key": "env",
                                                   "value": "prod"})
    detail = client.get(f"/sources/{source_id}").text
    assert "env=prod" in detail and f'href="/tags/source/{source_id}"' in detail
    assert source_id in client.get("/sources?tag=env=prod").text
    assert source_id not in client.get("/sources?tag=env=dev").text
