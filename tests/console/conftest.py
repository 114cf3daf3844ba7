"""Console fixtures: a service context in a temp data dir and a logged-in test client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.inventory import make_inventory
from rehost.config import Settings
from rehost.console import create_console_router
from rehost.services import activation, agents, bootstrap
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

if TYPE_CHECKING:
    from console.world import World

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def console_ctx(tmp_path: Path) -> Iterator[tuple[ServiceContext, AdminCredentials]]:
    """A migrated SQLite database with the admin account."""
    ctx = bootstrap.open_context(Settings(data_dir=tmp_path / "data", print_credentials=False))
    creds = bootstrap.ensure_admin(ctx)
    assert creds is not None
    yield ctx, creds
    ctx.db.engine.dispose()


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def import_source(ctx: ServiceContext, account_id: str, hostname: str, **kwargs: object) -> str:
    """Register a source through the agents service; return its id."""
    code = activation.create_code(ctx, account_id)  # type: ignore[arg-type]
    result = agents.import_source(ctx, code_id=code.code.id, code=code.secret,
                                  inventory=make_inventory(hostname, **kwargs))  # type: ignore[arg-type]
    return result.source_id


@pytest.fixture
def world(console_ctx: tuple[ServiceContext, AdminCredentials]) -> World:
    """Real data every page can be rendered with (see console/world.py)."""
    from console.world import build_world
    from rehost.services import auth

    ctx, creds = console_ctx
    return build_world(ctx, auth.login(ctx, creds.account_name, creds.password).account_id)


@pytest.fixture
def client(console_ctx: tuple[ServiceContext, AdminCredentials]) -> Iterator[TestClient]:
    """A TestClient logged in as admin (console router only, language zh-CN)."""
    ctx, creds = console_ctx
    app = FastAPI()
    app.state.ctx = ctx
    app.include_router(create_console_router())
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        page = test_client.get("/login")
        response = test_client.post("/login", data={
            "account": creds.account_name, "password": creds.password,
            "csrf_token": csrf_of(page.text), "next": "/sources",
        }, follow_redirects=False)
        assert response.status_code == 303, response.text
        yield test_client
