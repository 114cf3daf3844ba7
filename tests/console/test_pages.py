"""Console pages through the real services and database, without a browser."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from console.conftest import csrf_of, import_source
from rehost.agentdist.pyz import agent_artefact
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

Ctx = tuple[ServiceContext, AdminCredentials]


def _account(ctx: ServiceContext, creds: AdminCredentials) -> str:
    from rehost.services import auth

    return auth.login(ctx, creds.account_name, creds.password).account_id


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
    assert "curl -fsS http://127.0.0.1/agent/install.sh | sh -s -- --code at-" in response.text
    assert agent_artefact().sha256 in response.text


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


def _job_id(jobs_page: str) -> str:
    return jobs_page.split('data-job-id="')[1].split('"')[0]


@pytest.mark.parametrize(("lang", "words"), [
    ("zh-CN", ("迁移方式", "只迁移一次", "增量迁移", "同步频率", "保留镜像数量", "1~168")),
    ("en", ("Migration type", "One-time migration", "Incremental migration", "Sync frequency",
            "Images to keep", "1–168")),
])
def test_create_form_offers_incremental_migration(
    console_ctx: Ctx, client: TestClient, lang: str, words: tuple[str, ...],
) -> None:
    ctx, creds = console_ctx
    source = import_source(ctx, _account(ctx, creds), "web-01")
    client.get(f"/lang/{lang}")
    page = client.get(f"/jobs/new?source_id={source}").text
    for text in words:
        assert text in page, text
    assert re.search(r'id="run_once_true" name="run_once" value="true" checked', page)
    assert re.search(r'id="run_once_false" name="run_once" value="false">', page)
    assert re.search(r'name="frequency"[^>]* value="" min="1" max="168"', page)
    assert re.search(r'name="max_images_to_keep"[^>]* value="1" min="1" max="10"', page)
    # the cycle fields follow the type choice in tab order, before the execution mode
    assert page.index('name="run_once"') < page.index('name="frequency"') \
        < page.index('name="max_images_to_keep"') < page.index('name="mode"')


@pytest.mark.parametrize(("lang", "not_integer"), [("zh-CN", "请输入整数"),
                                                   ("en", "Enter a whole number")])
def test_bad_cycle_settings_are_shown_beside_their_fields(
    console_ctx: Ctx, client: TestClient, lang: str, not_integer: str,
) -> None:
    ctx, creds = console_ctx
    source = import_source(ctx, _account(ctx, creds), "web-01")
    client.get(f"/lang/{lang}")
    cases = [
        ("frequency", {"frequency": "0"}, "InvalidParameter.Frequency"),
        ("frequency", {"frequency": "169"}, "InvalidParameter.Frequency"),
        ("frequency", {"frequency": ""}, "InvalidParameter.Frequency"),
        ("frequency", {"frequency": "abc"}, not_integer),
        ("max_images_to_keep", {"frequency": "24", "max_images_to_keep": "11"},
         "InvalidParameter.MaxNumberOfImageToKeep"),
    ]
    for field, data, text in cases:
        status, html = _create(client, source, run_once="false", **data)
        assert status == 400, data
        assert f'id="{field}-error"' in html and text in html, data
        assert html.count(" autofocus") == 1 and re.search(
            rf'id="{field}"[^>]* aria-invalid="true" autofocus', html), data
        assert re.search(r'id="run_once_false" name="run_once" value="false" checked', html)
    # a one-time job ignores the cycle fields even when a browser without JS sent them
    status, _ = _create(client, source, run_once="true", frequency="0")
    assert status == 303


def test_incremental_job_is_created_with_its_values(console_ctx: Ctx,
                                                    client: TestClient) -> None:
    from rehost.services import jobs

    ctx, creds = console_ctx
    account = _account(ctx, creds)
    source = import_source(ctx, account, "web-01")
    status, _ = _create(client, source, name="inc-job", run_once="false", frequency="24",
                        max_images_to_keep="3")
    assert status == 303
    page = client.get("/jobs").text
    job = jobs.get_job(ctx, account, _job_id(page))  # type: ignore[arg-type]
    spec = job.spec
    assert (spec.name, spec.run_once, spec.frequency_hours, spec.max_images_to_keep) == \
        ("inc-job", False, 24, 3)
    assert "增量迁移 · 尚未同步" in page
    log = client.get(f"/jobs/{job.id}/log").text
    assert "增量迁移 · 每 24 小时同步 · 保留 3 个镜像" in log


@pytest.mark.parametrize(("lang", "words"), [
    ("zh-CN", ("等待中", "增量迁移 · 第 1 轮", "下次同步时间：", "开始/重试",
               "增量迁移 · 第 2 轮")),
    ("en", ("Waiting", "Incremental · cycle 1", "Next sync: ", "Start/Retry",
            "Incremental · cycle 2")),
])
def test_waiting_job_shows_cycle_and_next_sync(
    console_ctx: Ctx, client: TestClient, lang: str, words: tuple[str, ...],
) -> None:
    from rehost.console.formatting import fmt_time
    from rehost.domain.ids import JobId
    from rehost.services import dataplane, jobs, runs

    ctx, creds = console_ctx
    account = _account(ctx, creds)
    source = import_source(ctx, account, "web-01")
    client.get(f"/lang/{lang}")
    assert _create(client, source, run_once="false", frequency="24")[0] == 303
    job_id = _job_id(client.get("/jobs").text)
    runs.start_job(ctx, account, job_id)  # type: ignore[arg-type]
    dataplane.finish_job(ctx, JobId(job_id), manifest={"disks": []})  # cycle 1's image is built
    job = jobs.get_job(ctx, account, job_id)  # type: ignore[arg-type]
    assert job.status.value == "Waiting" and job.next_cycle_at is not None
    waiting, cycle1, next_label, start, cycle2 = words
    page = client.get("/jobs?status=Waiting").text
    assert f'<span class="badge wait" data-field="status">{waiting}</span>' in page
    assert cycle1 in page and f"{next_label}{fmt_time(job.next_cycle_at)}" in page
    assert re.search(rf'value="start:{job_id}" data-field="can_start">{start}<', page)
    (row,) = client.get(f"/jobs/progress.json?ids={job_id}").json()["jobs"]
    assert (row["status_tone"], row["incremental"], row["can_start"]) == ("wait", True, True)
    assert row["cycle_text"] == cycle1 and row["next_cycle_text"].startswith(next_label)
    client.post("/jobs/actions", data={"csrf_token": csrf_of(page), "one": f"start:{job_id}"})
    (row,) = client.get(f"/jobs/progress.json?ids={job_id}").json()["jobs"]
    assert (row["status"], row["cycle_text"], row["next_cycle_text"]) == ("Running", cycle2, "")


@pytest.mark.parametrize(("lang", "shown", "hidden"), [
    ("zh-CN", "任务会从中断处继续", "it resumes where it stopped"),
    ("en", "it resumes where it stopped", "任务会从中断处继续"),
])
def test_failed_job_shows_the_hint_in_the_page_language(
    console_ctx: Ctx, client: TestClient, lang: str, shown: str, hidden: str,
) -> None:
    from rehost.domain.ids import JobId
    from rehost.services import dataplane, runs, sources

    ctx, creds = console_ctx
    account = _account(ctx, creds)
    source = import_source(ctx, account, "web-01")
    client.get(f"/lang/{lang}")
    assert _create(client, source)[0] == 303
    job_id = _job_id(client.get("/jobs").text)
    runs.start_job(ctx, account, job_id)  # type: ignore[arg-type]
    dataplane.fail_job(ctx, JobId(job_id), code=sources.OFFLINE_CODE,
                       message_en=sources.OFFLINE_EN, message_zh=sources.OFFLINE_ZH,
                       hint=sources.OFFLINE_HINT, hint_zh=sources.OFFLINE_HINT_ZH)
    log = client.get(f"/jobs/{job_id}/log").text
    assert shown in log and hidden not in log
    table = client.get("/jobs").text
    assert shown in table and hidden not in table
