"""Fixtures of the SMC endpoint tests: a live server and an SDK client bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_smc20190601.client import Client as SmcClient
from alibabacloud_tea_openapi import models as open_api_models

from smc.live import LiveServer, run_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real `rehost server` process per test module."""
    with run_server(tmp_path_factory.mktemp("smc") / "data") as server:
        yield server


def sdk_client(server: LiveServer, *, key_id: str = "", secret: str = "") -> SmcClient:
    """The official SMC SDK client with only its endpoint changed."""
    config = open_api_models.Config(
        access_key_id=key_id or server.access_key_id,
        access_key_secret=secret or server.access_key_secret,
        endpoint=server.host_port, protocol="http", region_id="local",
    )
    return SmcClient(config)


@pytest.fixture()
def smc(live: LiveServer) -> SmcClient:
    """SDK client with the admin AccessKey."""
    return sdk_client(live)


def data_dir_of(server: LiveServer) -> Path:
    """The server's data directory."""
    return server.data_dir
