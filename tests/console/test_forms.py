"""Forms show every error at once; the job log colours only error-level codes."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from console.conftest import csrf_of, import_source
from console.world import World
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

Ctx = tuple[ServiceContext, AdminCredentials]


def test_create_form_shows_every_error_at_once(client: TestClient, world: World) -> None:
    client.get("/lang/en")
    form = client.get(f"/jobs/new?source_id={world.source_id}").text
    page = client.post("/jobs/new", data={
        "csrf_token": csrf_of(form), "source_id": world.source_id, "region_id": "local",
        "name": "1bad", "system_disk_size": "0", "mode": "create-only",
        "bandwidth_limit": "-1", "compress_level": "11", "image_name": "x"})
    assert page.status_code == 400
    shown = set(re.findall(r'id="([a-z_]+)-error"', page.text))
    assert shown == {"name", "system_disk_size", "bandwidth_limit", "compress_level",
                     "image_name"}
    assert "InvalidParameter.CompressLevel" in page.text


def test_a_good_form_still_creates_the_job(console_ctx: Ctx, client: TestClient) -> None:
    from rehost.services import auth

    ctx, creds = console_ctx
    account = auth.login(ctx, creds.account_name, creds.password).account_id
    source = import_source(ctx, account, "db-9")
    form = client.get(f"/jobs/new?source_id={source}").text
    created = client.post("/jobs/new", data={
        "csrf_token": csrf_of(form), "source_id": source, "region_id": "local",
        "system_disk_size": "40", "mode": "create-only", "data_disk_1_enabled": "1",
        "data_disk_1_size": "100"}, follow_redirects=False)
    assert created.status_code == 303


def test_only_error_level_codes_are_red(client: TestClient, world: World) -> None:
    failed = world.job_ids[3]
    log = client.get(f"/jobs/{failed}/log").text
    assert '<span class="code mono err">SourceServer.Offline</span>' in log
    assert "迁移源离线" in log  # the event code's label from the catalogue
    codes = re.findall(r'<span class="code mono (\w+)">([^<]+)</span>', log)
    assert all(tone == "err" for tone, _ in codes if _ == "SourceServer.Offline")
    assert all(tone != "err" for tone, code in codes if code != "SourceServer.Offline")


def test_create_form_sets_and_refuses_adaptation_overrides(console_ctx: Ctx,
                                                           client: TestClient) -> None:
    from rehost.services import auth, jobs, regions

    ctx, creds = console_ctx
    account = auth.login(ctx, creds.account_name, creds.password).account_id
    client.get("/lang/en")
    form = client.get(f"/jobs/new?source_id={import_source(ctx, account, 'db-10')}").text
    for name in ("adapt_guests", "keep_static_network"):
        select = re.search(rf'<select id="{name}".*?</select>', form, re.S)
        assert select is not None
        assert re.findall(r'<option value="(\w+)"', select.group(0)) == ["region", "on", "off"]
        assert '<option value="region" selected>Region default</option>' in select.group(0)
    source = import_source(ctx, account, "db-11")
    fields = {"csrf_token": csrf_of(form), "source_id": source, "region_id": "local",
              "system_disk_size": "40", "mode": "create-only"}
    refused = client.post("/jobs/new", data={**fields, "keep_static_network": "on"})
    assert refused.status_code == 400  # the local region does not adapt, nor does the job
    assert set(re.findall(r'id="([a-z_]+)-error"', refused.text)) == {"keep_static_network"}
    assert "InvalidParameter.KeepStaticNetwork" in refused.text
    assert '<details class="advanced" id="advanced" open>' in refused.text
    assert '<option value="on" selected>On</option>' in refused.text  # the choice stays
    created = client.post("/jobs/new", data={**fields, "adapt_guests": "on",
                                             "keep_static_network": "on"},
                          follow_redirects=False)
    assert created.status_code == 303
    job = jobs.describe_jobs(ctx, account, source_id=source).items[0]
    assert (job.spec.adapt_guests, job.spec.keep_static_network) == (True, True)
    log = client.get(f"/jobs/{job.id}/log").text
    assert re.search(r"<dt>OS adaptation</dt><dd class=\"adaptation\">On "
                     r"<span class=\"small muted\">\(set on this job\)</span>", log)
    regions.create_region(ctx, account, region_id="adapting-c",
                          image_store_path=str(ctx.settings.data_dir / "store-c"),
                          adapt_guests=True)
    other = import_source(ctx, account, "db-12")
    made = client.post("/jobs/new", data={**fields, "source_id": other,
                                          "region_id": "adapting-c"}, follow_redirects=False)
    assert made.status_code == 303
    plain = jobs.describe_jobs(ctx, account, source_id=other).items[0]
    assert (plain.spec.adapt_guests, plain.spec.keep_static_network) == (None, None)
    client.get("/lang/zh-CN")
    zh = client.get(f"/jobs/{plain.id}/log").text
    assert re.search(r"<dt>操作系统适配</dt><dd class=\"adaptation\">开启 "
                     r"<span class=\"small muted\">\(地域设置\)</span>", zh)
