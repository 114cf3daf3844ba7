"""Teams in real headless Chromium on a real `rehost server`: the admin creates a read-only
user and a key in the console (secret shown once); that user logs in as user@account, sees the
users page, and its attempt to create a user is refused with `Forbidden.Unauthorized`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.browser import CHROMIUM, CHROMIUM_ARGS, RunningServer, require_chromium, run_server

pytestmark = pytest.mark.browser


@pytest.fixture
def browser() -> Iterator[Any]:
    """One headless Chromium."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A fresh `rehost server`."""
    with run_server(tmp_path / "data") as running:
        yield running


def _login(page: Any, server: RunningServer, login: str, password: str) -> None:
    page.goto(server.base_url + "/lang/en?next=/login")
    page.fill("#account", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/sources$"))


def test_read_only_user_in_the_browser(browser: Any, server: RunningServer) -> None:
    creds = server.admin()
    admin = browser.new_context().new_page()
    _login(admin, server, creds["account_name"], creds["password"])
    admin.click('nav a[href="/users"]')
    admin.fill("#name", "viewer")
    admin.select_option("#role", "read-only")
    admin.fill("#password", "viewer-pass-1")
    admin.click("#create-user button[type=submit]")
    row = admin.locator('tr[data-user-name="viewer"]')
    assert "Read-only" in row.inner_text()
    row.locator("a", has_text="AccessKeys").click()
    admin.click("#create-key")
    key_id, secret = admin.inner_text("#new-key-id"), admin.inner_text("#new-key-secret")
    me = httpx.get(server.base_url + "/api/v1/me", auth=(key_id, secret), timeout=10).json()
    assert (me["user_name"], me["role"]) == ("viewer", "read-only")
    admin.goto(admin.url)  # a reload: the secret is gone
    assert admin.locator("#new-key-secret").count() == 0
    viewer = browser.new_context().new_page()
    _login(viewer, server, f"viewer@{creds['account_name']}", "viewer-pass-1")
    viewer.goto(server.base_url + "/users")
    viewer.fill("#name", "intruder")
    viewer.fill("#password", "intruder-pass")
    viewer.click("#create-user button[type=submit]")
    body = viewer.inner_text("main")
    assert "Forbidden.Unauthorized" in body and "read-only" in body
    assert "intruder" not in admin.goto(server.base_url + "/users").text()
