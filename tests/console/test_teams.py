"""Teams in the console over HTTP: a read-only user's every POST (enumerated from the console
router) is refused with `Forbidden.Unauthorized`; an operator cannot manage users or keys;
an admin creates users and keys (secret shown once), disables and deletes them; own password."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from console.conftest import csrf_of
from rehost.console.router import create_console_router
from rehost.domain.authz import Role
from rehost.domain.ids import AccountId
from rehost.services import access_keys, auth, users
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

Ctx = tuple[ServiceContext, AdminCredentials]
OWN = {"/logout", "/me/password", "/login"}  # every role may (login: not yet a user)


def _app(ctx: ServiceContext) -> FastAPI:
    app = FastAPI()
    app.state.ctx = ctx
    app.include_router(create_console_router())
    return app


def _login(client: TestClient, login: str, password: str) -> None:
    page = client.get("/login")
    r = client.post("/login", data={"account": login, "password": password, "next": "/sources",
                                    "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text


def _account_id(ctx: ServiceContext, creds: AdminCredentials) -> AccountId:
    return auth.login(ctx, creds.account_name, creds.password).account_id


RoleClient = Callable[[Role], TestClient]


@pytest.fixture
def as_role(console_ctx: Ctx) -> Iterator[RoleClient]:
    """A function: a TestClient logged in as a new user of the admin account with `role`."""
    ctx, creds = console_ctx
    account_id = _account_id(ctx, creds)
    numbers = itertools.count()
    with ExitStack() as stack:
        def make(role: Role) -> TestClient:
            name = f"u{next(numbers)}-{role.value}"
            users.create_user(ctx, account_id, name=name, role=role, password="pass-" + name)
            client = stack.enter_context(TestClient(_app(ctx), base_url="http://127.0.0.1"))
            _login(client, f"{name}@{creds.account_name}", "pass-" + name)
            return client
        yield make


def console_posts() -> list[str]:
    """Every POST path template of the console router."""
    router = create_console_router()
    return sorted(r.path for r in router.routes if isinstance(r, APIRoute) and "POST" in r.methods)


def _concrete(path: str) -> str:
    return re.sub(r"\{verb\}", "disable", re.sub(r"\{(?!verb)\w+\}", "x-1", path))


def _refused(client: TestClient, path: str, csrf: str) -> None:
    r = client.post(_concrete(path), data={"csrf_token": csrf, "role": "admin"},
                    follow_redirects=False)
    assert r.status_code == 403, (path, r.status_code, r.text[:300])
    assert "Forbidden.Unauthorized" in r.text, (path, r.text[:300])


def test_read_only_every_console_write_refused(as_role: RoleClient) -> None:
    posts = console_posts()
    assert len(posts) >= 12 and set(posts) >= OWN
    client = as_role(Role.READ_ONLY)
    csrf = csrf_of(client.get("/sources").text)
    for path in posts:
        if path not in OWN:
            _refused(client, path, csrf)
    for page in ("/sources", "/jobs", "/users", "/activation-codes", "/me", "/regions"):
        assert client.get(page).status_code == 200, page


def test_operator_refused_users_and_keys(as_role: RoleClient) -> None:
    client = as_role(Role.OPERATOR)
    csrf = csrf_of(client.get("/sources").text)
    admin_posts = [p for p in console_posts() if p.startswith("/users")]
    assert len(admin_posts) >= 6
    for path in admin_posts:
        _refused(client, path, csrf)
    made = client.post("/activation-codes", data={"csrf_token": csrf}, follow_redirects=False)
    assert made.status_code in (200, 303), made.text[:300]


def test_admin_manages_users_and_keys(console_ctx: Ctx, client: TestClient) -> None:
    ctx, creds = console_ctx
    csrf = csrf_of(client.get("/users").text)
    client.post("/users", data={"csrf_token": csrf, "name": "carl", "role": "operator",
                                "password": "carl-pass-1"})
    html = client.get("/users").text
    assert 'data-user-name="carl"' in html and "运维人员" in html
    carl = next(u for u in users.list_users(ctx, _account_id(ctx, creds)) if u.name == "carl")
    page = client.post(f"/users/{carl.id}/keys", data={"csrf_token": csrf})
    secret = re.search(r'id="new-key-secret">([^<]+)<', page.text)
    key_id = re.search(r'id="new-key-id">([^<]+)<', page.text)
    assert secret and key_id and "只显示这一次" in page.text
    listing = client.get(f"/users/{carl.id}/keys").text
    assert key_id.group(1) in listing and secret.group(1) not in listing  # shown once only
    client.post(f"/users/{carl.id}/keys/{key_id.group(1)}/disable", data={"csrf_token": csrf})
    assert not access_keys.get_key(ctx, carl.account_id, key_id.group(1)).enabled
    client.post(f"/users/{carl.id}/role", data={"csrf_token": csrf, "role": "read-only"})
    assert users.get_user(ctx, carl.account_id, carl.id).role is Role.READ_ONLY
    bad = client.post("/users", data={"csrf_token": csrf, "name": "x", "role": "admin",
                                      "password": "short"})
    assert "InvalidParameter.UserName" in bad.text
    client.post(f"/users/{carl.id}/delete", data={"csrf_token": csrf})
    assert [u.name for u in users.list_users(ctx, carl.account_id)] == [creds.account_name]


def test_own_password_change(console_ctx: Ctx, as_role: RoleClient) -> None:
    ctx, creds = console_ctx
    client = as_role(Role.READ_ONLY)
    me = client.get("/me").text
    assert "只读用户" in me
    csrf = csrf_of(me)
    wrong = client.post("/me/password", data={"csrf_token": csrf, "old_password": "nope",
                                              "new_password": "new-pass-123",
                                              "confirm_password": "new-pass-123"})
    assert "InvalidParameter.OldPassword" in wrong.text
    ok = client.post("/me/password", data={"csrf_token": csrf,
                                           "old_password": "pass-u0-read-only",
                                           "new_password": "new-pass-123",
                                           "confirm_password": "new-pass-123"})
    assert "密码已修改" in ok.text
    fresh = TestClient(_app(ctx), base_url="http://127.0.0.1")
    _login(fresh, f"u0-read-only@{creds.account_name}", "new-pass-123")
