"""激活码 / Activation codes page: states, registered count, disable, both languages."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from fastapi.testclient import TestClient

from console.conftest import csrf_of
from console.inventory import make_inventory
from rehost.domain.ids import AccountId
from rehost.services import activation, agents, auth
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

Ctx = tuple[ServiceContext, AdminCredentials]


def _codes(ctx: ServiceContext, account: AccountId) -> tuple[str, str, str]:
    """One activated (1 source), one unactivated, one expired code."""
    used = activation.create_code(ctx, account, count=5)
    agents.import_source(ctx, code_id=used.code.id, code=used.secret,
                         inventory=make_inventory("web-01"))
    fresh = activation.create_code(ctx, account)
    past = ctx.now() - timedelta(days=3)
    old = activation.create_code(dataclasses.replace(ctx, clock=lambda: past), account,
                                 ttl_days=1)
    return used.code.id, fresh.code.id, old.code.id


def _row(html: str, code_id: str) -> str:
    match = re.search(rf'<tr data-code-id="{code_id}">(.*?)</tr>', html, re.S)
    assert match, code_id
    return match.group(1)


def test_codes_list_states_and_counts(console_ctx: Ctx, client: TestClient) -> None:
    ctx, creds = console_ctx
    account = auth.login(ctx, creds.account_name, creds.password).account_id
    used, fresh, old = _codes(ctx, account)
    assert 'href="/activation-codes"' in client.get("/sources").text  # linked from the panel
    html = client.get("/activation-codes").text
    assert "已激活" in _row(html, used) and "1/5" in _row(html, used)
    assert "未激活" in _row(html, fresh) and "0/100" in _row(html, fresh)
    assert "已过期" in _row(html, old) and "禁用" not in _row(html, old)
    client.get("/lang/en?next=/activation-codes")
    english = client.get("/activation-codes").text
    assert "Activated" in _row(english, used) and "Expired" in _row(english, old)
    assert "Registered / allowed" in english


def test_disable_needs_csrf_and_changes_state(console_ctx: Ctx, client: TestClient) -> None:
    ctx, creds = console_ctx
    account = auth.login(ctx, creds.account_name, creds.password).account_id
    code = activation.create_code(ctx, account)
    html = client.get("/activation-codes").text
    forged = client.post(f"/activation-codes/{code.code.id}/disable",
                         data={"csrf_token": "forged"})
    assert forged.status_code == 403
    done = client.post(f"/activation-codes/{code.code.id}/disable",
                       data={"csrf_token": csrf_of(html)})
    assert f"激活码 {code.code.id} 已禁用" in done.text
    assert "已禁用" in _row(done.text, code.code.id)
    missing = client.post("/activation-codes/at-nope/disable", data={"csrf_token": csrf_of(html)})
    assert "NotFound" in missing.text
