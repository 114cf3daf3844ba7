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
