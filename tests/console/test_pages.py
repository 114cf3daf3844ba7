"""Console pages through the real services and database, without a browser."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from console.conftest import csrf_of, import_source
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

Ctx = tuple[ServiceContext, AdminCredentials]


def _account(ctx: ServiceContext, creds: AdminCredentials) -> str:
    from rehost.services import auth

    return auth.login(ctx, creds.account_name, creds.password)


def test_anonymous_visitors_go_to_login(console_ctx: Ctx) -> None:
    from fastapi import FastAPI

    from rehost.console import create_console_router

    app = FastAPI()
    app.state.ctx = console_ctx[0]
    app.include_router(create_console_router())
    with TestClient(app) as anon:
        response = anon.get("/jobs?status=Ready", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/jobs%3Fstatus%3DReady"
        page = anon.get("/login")
        assert "账号名" in page.text and page.headers["content-security-policy"]
        bad = anon.post("/login", data={"account": "admin", "password": "nope",
                                        "csrf_token": csrf_of(page.text)})
        assert bad.status_code == 401 and "账号名或密码错误" in bad.text
        forged = anon.post("/login", data={"account": "admin", "password": "x",
                                           "csrf_token": "forged"})
        assert forged.status_code == 400
        assert anon.get("/jobs/progress.json?ids=x").status_code == 401


def test_posts_without_csrf_token_are_refused(client: TestClient) -> None:
    response = client.post("/activation-codes", data={"csrf_token": "wrong"})
    assert response.status_code == 403
    assert "表单已过期" in response.text


def test_language_switch_is_stored_in_a_cookie(client: TestClient) -> None:
    assert "迁移源" in client.get("/sources").text
    response = client.get("/lang/en?next=/regions", follow_redirects=False)
    assert response.headers["location"] == "/regions"
    assert "Transit network slots" in client.get("/regions").text
    assert client.get("/lang/en?next=//evil.example", follow_redirects=False).headers[
        "location"] == "/sources"


def test_activation_code_panel_shows_the_agent_command(client: TestClient) -> None:
    page = client.get("/sources")
    response = client.post("/activation-codes", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 200
    assert "rehost agent import --endpoint http://127.0.0.1 --code-id at-" in response.text


def test_source_search_by_name_and_exact_id(console_ctx: Ctx, client: TestClient) -> None:
    ctx, creds = console_ctx
    account = _account(ctx, creds)
    web = import_source(ctx, account, "web-01")
    import_source(ctx, account, "db-01", data_disks=())
    assert "web-01" in client.get("/sources?q=web").text
    assert "db-01" not in client.get("/sources?q=web").text
    by_id = client.get(f"/sources?q={web}").text
    assert "web-01" in by_id and "db-01" not in by_id
    assert "没有找到匹配的迁移源" in client.get(f"/sources?q={web[:-1]}").text
    detail = client.get(f"/sources/{web}").text
    for text in ("/dev/vda", "/boot/efi", "6.50 GiB", "0.1.0", "Debian GNU/Linux"):
        assert text in detail
    assert client.get("/sources/s-nope").status_code == 404


def _create(client: TestClient, source_id: str, **fields: str) -> tuple[int, str]:
    page = client.get(f"/jobs/new?source_id={source_id}")
    data = {"csrf_token": csrf_of(page.text), "source_id": source_id, "region_id": "local",
            "system_disk_size": "40", "mode": "create-only", "bandwidth_limit": "0",
            "compress_level": "0", "data_disk_1_enabled": "1", "data_disk_1_size": "100",
            **fields}
    response = client.post("/jobs/new", data=data, follow_redirects=False)
    return response.status_code, response.text


def test_create_form_prefills_and_explains(console_ctx: Ctx, client: TestClient) -> None:
    ctx, creds = console_ctx
    account = _account(ctx, creds)
    with_data = import_source(ctx, account, "web-01")
    without = import_source(ctx, account, "db-01", data_disks=())
    page = client.get(f"/jobs/new?source_id={with_data}").text
    assert re.search(r'name="system_disk_size"[^>]* value="40"', page)
    assert "已使用 6.50 GiB" in page and "范围 7~2048 GiB" in page
    assert re.search(r'name="data_disk_1_size" value="100"', page)
    bare = client.get(f"/jobs/new?source_id={without}").text
    assert "data_disk_1" not in bare and "为什么看不到数据盘" in bare


def test_bad_input_is_shown_beside_its_field(console_ctx: Ctx, client: TestClient) -> None:
    ctx, creds = console_ctx
    source = import_source(ctx, _account(ctx, creds), "web-01")
    cases = {
        "system_disk_size": ({"system_disk_size": "6"}, "InvalidParameter.SystemDiskSize"),
        "name": ({"name": "1bad"}, "InvalidParameter.Name"),
        "data_disks": ({"data_disk_1_size": "12"}, "InvalidParameter.DataDisk.Size"),
        "compress_level": ({"compress_level": "11"}, "InvalidParameter.CompressLevel"),
        "bandwidth_limit": ({"bandwidth_limit": "abc"}, "请输入整数"),
        "scheduled_start_time": ({"mode": "scheduled", "scheduled_start_time":
                                  "2020-01-01T08:00"}, "InvalidParameter.ScheduledStartTime"),
    }
    for field, (data, text) in cases.items():
        status, html = _create(client, source, **data)
        assert status == 400, field
        assert f'id="{field}-error"' in html and text in html, field
        assert html.count(" autofocus") == 1, field
    status, html = _create(client, source, compress_level="11")
    assert '<details class="advanced" id="advanced" open>' in html


def test_create_start_and_progress_json(console_ctx: Ctx, client: TestClient) -> None:
    ctx, creds = console_ctx
    source = import_source(ctx, _account(ctx, creds), "web-01")
    status, _ = _create(client, source, name="web-01-job")
    assert status == 303
    jobs_page = client.get("/jobs").text
    assert "web-01-job" in jobs_page and "未开始" in jobs_page
    job_id = jobs_page.split('data-job-id="')[1].split('"')[0]
    response = client.post("/jobs/actions", data={
        "csrf_token": csrf_of(jobs_page), "action": "start", "job_id": job_id,
    }, follow_redirects=True)
    assert "已开始 1 个任务" in response.text
    progress = client.get(f"/jobs/progress.json?ids={job_id}").json()
    (row,) = progress["jobs"]
    assert (row["status"], row["business_label"], row["percent"]) == ("Running", "准备中", None)
    refused = client.post("/jobs/actions", data={
        "csrf_token": csrf_of(jobs_page), "action": "pause", "job_id": job_id,
    }, follow_redirects=True)
    assert "ReplicationJob.InvalidStatus" in refused.text
    log = client.get(f"/jobs/{job_id}/log").text
    assert "任务日志" in log and job_id in log


def test_batch_start_refuses_more_than_ten(client: TestClient) -> None:
    page = client.get("/jobs").text
    response = client.post("/jobs/actions", data={
        "csrf_token": csrf_of(page), "action": "start", "job_id": [f"j-{i}" for i in range(11)],
    }, follow_redirects=True)
    assert "InvalidParameter.JobIds" in response.text
