"""/metrics is not public: loopback clients only by default, a bearer metrics_token when set."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rehost.api.app import create_app
from rehost.config import SettingsError, load_settings
from rehost.configfile import merged_environment
from rehost.services.context import ServiceContext

TOKEN = "s3cret-metrics-token-0123"


def scrape(ctx: ServiceContext, host: str, headers: dict[str, str] | None = None,
           ) -> tuple[int, dict[str, str]]:
    with TestClient(create_app(ctx.settings, context=ctx), client=(host, 40000)) as c:
        r = c.get("/metrics", headers=headers or {})
        return r.status_code, r.json() if r.status_code != 200 else {}


def test_without_a_token_only_loopback_clients_scrape(ctl_ctx: ServiceContext) -> None:
    assert scrape(ctl_ctx, "127.0.0.1")[0] == 200
    assert scrape(ctl_ctx, "::1")[0] == 200
    status, body = scrape(ctl_ctx, "203.0.113.7")
    assert status == 403 and body["code"] == "Forbidden.MetricsNotLoopback"
    assert "metrics_token" in body["message"] and "203.0.113.7" in body["message"]


def test_with_a_token_every_client_needs_it(ctl_ctx: ServiceContext) -> None:
    ctx = replace(ctl_ctx, settings=replace(ctl_ctx.settings, metrics_token=TOKEN))
    assert scrape(ctx, "203.0.113.7", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"},
                    {"Authorization": f"Basic {TOKEN}"}):
        status, body = scrape(ctx, "127.0.0.1", headers)
        assert status == 401 and body["code"] == "InvalidMetricsToken", headers


def test_the_token_comes_from_server_toml_and_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text(f'[server]\nmetrics_token = "{TOKEN}"\n')
    env = merged_environment(str(config), {})
    assert load_settings(data_dir=tmp_path, env=env).metrics_token == TOKEN
    assert TOKEN not in repr(load_settings(data_dir=tmp_path, env=env))
    with pytest.raises(SettingsError, match="at least 16"):
        load_settings(data_dir=tmp_path, env={"REHOST_METRICS_TOKEN": "short"})
