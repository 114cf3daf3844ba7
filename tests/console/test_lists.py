"""Time zone preference, list filters and search, navigation and the favicon."""

from __future__ import annotations

from fastapi.testclient import TestClient

from console.conftest import csrf_of
from console.world import World
from rehost.console.formatting import fmt_time
from rehost.services import jobs
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

Ctx = tuple[ServiceContext, AdminCredentials]


def _job_ids(html: str) -> set[str]:
    return {part.split('"')[0] for part in html.split('data-job-id="')[1:]}


def test_times_follow_the_chosen_time_zone(console_ctx: Ctx, client: TestClient,
                                           world: World) -> None:
    from rehost.services import auth

    ctx, creds = console_ctx
    account = auth.login(ctx, creds.account_name, creds.password).account_id
    job = jobs.get_job(ctx, account, world.job_ids[0])  # type: ignore[arg-type]
    assert fmt_time(job.created_at) in client.get("/jobs").text
    assert "时区：UTC" in client.get("/jobs").text
    prefs = client.get("/preferences?next=/jobs").text
    saved = client.post("/preferences", data={"csrf_token": csrf_of(prefs),
                                              "zone": "Asia/Shanghai", "back": "/jobs"},
                        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/jobs"
    page = client.get("/jobs").text
    shanghai = fmt_time(job.created_at, "Asia/Shanghai")
    assert shanghai.endswith(" Asia/Shanghai") and shanghai in page
    assert "时区：Asia/Shanghai" in page
    bad = client.post("/preferences", data={"csrf_token": csrf_of(prefs), "zone": "Mars/Base"})
    assert bad.status_code == 400 and "未知时区" in bad.text and "Mars/Base" in bad.text


def test_sources_filter_by_state(client: TestClient, world: World) -> None:
    def ids(query: str) -> set[str]:
        html = client.get(f"/sources{query}").text
        return {part.split('"')[0] for part in html.split('data-source-id="')[1:]}

    in_use, available, every = ids("?state=InUse"), ids("?state=Available"), ids("")
    assert in_use and available and not in_use & available  # the syncing job's source is busy
    assert world.source_id in available and in_use | available <= every
    bad = client.get("/sources?state=Online")
    assert bad.status_code == 400 and "Online" in bad.text and "在线, 迁移中" in bad.text


def test_jobs_search_by_name_and_exact_id(client: TestClient, world: World) -> None:
    ready = world.job_ids[0]
    assert _job_ids(client.get("/jobs?q=web-01").text) == {ready}
    assert _job_ids(client.get(f"/jobs?q={ready}").text) == {ready}
    assert _job_ids(client.get(f"/jobs?q={ready[:-1]}").text) == set()
    assert len(_job_ids(client.get("/jobs?q=job-web").text)) == 5
    assert "创建时间" in client.get("/jobs").text
    assert client.get("/jobs?status=Broken").status_code == 400


def test_navigation_and_favicon(client: TestClient) -> None:
    page = client.get("/activation-codes").text
    assert '<a href="/activation-codes" aria-current="page">激活码</a>' in page
    assert 'rel="icon" href="/favicon.svg"' in page
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg")
