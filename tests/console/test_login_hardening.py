"""Console login hardening: backoff, server-side logout, equal-time unknown accounts, HSTS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.conftest import csrf_of
from rehost.api.app import HSTS, create_app
from rehost.config import Settings
from rehost.console import create_console_router
from rehost.domain.errors import Throttled, Unauthenticated
from rehost.services import auth, bootstrap, console_login
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

Ctx = tuple[ServiceContext, AdminCredentials]


@pytest.fixture
def anon(console_ctx: Ctx) -> Iterator[TestClient]:
    """An anonymous client of the console router."""
    app = FastAPI()
    app.state.ctx = console_ctx[0]
    app.include_router(create_console_router())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def _login(client: TestClient, account: str, password: str) -> int:
    page = client.get("/login")
    response = client.post("/login", data={"account": account, "password": password,
                                           "csrf_token": csrf_of(page.text), "next": "/sources"},
                           follow_redirects=False)
    return response.status_code


def test_backoff_after_five_failures_refuses_even_the_right_password(
        console_ctx: Ctx, anon: TestClient) -> None:
    _, creds = console_ctx
    codes = [_login(anon, creds.account_name, "wrong") for _ in range(6)]
    assert codes[:5] == [401] * 5
    assert codes[5] == 429
    assert _login(anon, creds.account_name, creds.password) == 429


def test_backoff_message_is_bilingual_and_has_retry_after(
        console_ctx: Ctx, anon: TestClient) -> None:
    _, creds = console_ctx
    for _ in range(6):
        _login(anon, creds.account_name, "wrong")
    page = anon.get("/login")
    response = anon.post("/login", data={"account": creds.account_name, "password": "x",
                                         "csrf_token": csrf_of(page.text)})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    with pytest.raises(Throttled) as caught:
        console_login.login(console_ctx[0], creds.account_name, "x", address="testclient")
    assert "wait" in caught.value.message and "请等待" in caught.value.message_zh


def test_backoff_per_address_covers_many_account_names(anon: TestClient) -> None:
    codes = [_login(anon, f"nobody{i}", "wrong") for i in range(6)]
    assert codes[-1] == 429


def test_delay_doubles_and_is_capped() -> None:
    assert [console_login.delay_s(n) for n in (4, 5, 6, 7)] == [0, 1, 2, 4]
    assert console_login.delay_s(100) == console_login.MAX_DELAY_S


def test_waiting_out_the_delay_allows_the_right_password(console_ctx: Ctx) -> None:
    ctx, creds = console_ctx
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            console_login.login(ctx, creds.account_name, "wrong", address="a")
    with pytest.raises(Throttled):
        console_login.login(ctx, creds.account_name, creds.password, address="a")
    later = ctx.now() + timedelta(seconds=console_login.delay_s(5) + 1)
    ctx_later = replace(ctx, clock=lambda: later)
    assert console_login.login(ctx_later, creds.account_name, creds.password, address="a")


def test_logout_revokes_the_session_server_side(client: TestClient) -> None:
    cookie = client.cookies.get("rehost_session")
    assert cookie
    page = client.get("/sources")
    assert page.status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf_of(page.text)},
                      follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("rehost_session", cookie)  # replay the old cookie
    replay = client.get("/sources", follow_redirects=False)
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/login")


def test_unknown_accounts_cost_one_scrypt_like_known_ones(console_ctx: Ctx) -> None:
    ctx, creds = console_ctx

    def timed(name: str) -> float:
        start = time.perf_counter()
        for _ in range(3):
            with pytest.raises(Unauthenticated):
                auth.login(ctx, name, "wrong")
        return time.perf_counter() - start

    timed("warm-up")
    known, unknown = timed(creds.account_name), timed("no-such-account")
    assert unknown > known / 2, (known, unknown)


def test_first_login_deletes_admin_credentials(console_ctx: Ctx, anon: TestClient) -> None:
    _, creds = console_ctx
    assert creds.path.exists()
    assert _login(anon, creds.account_name, "wrong") == 401
    assert creds.path.exists()
    assert _login(anon, creds.account_name, creds.password) == 303
    assert not creds.path.exists()


def test_hsts_only_with_tls(tmp_path: Path) -> None:
    base = tmp_path
    for tls, expected in ((True, HSTS), (False, None)):
        ctx = bootstrap.open_context(Settings(data_dir=base / str(tls), api_tls=tls))
        with TestClient(create_app(ctx.settings, context=ctx)) as client:
            got = client.get("/api/v1/health").headers.get("Strict-Transport-Security")
        assert got == expected
        ctx.db.dispose()
