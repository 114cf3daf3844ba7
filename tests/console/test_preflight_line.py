"""The source page shows the agent's pre-flight report from the import on one line."""

from __future__ import annotations

from fastapi.testclient import TestClient

from console.inventory import make_inventory
from rehost.services import activation, agents, auth
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

REPORT = [{"name": "root", "level": "OK", "detail": "running as root"},
          {"name": "clock", "level": "FAIL", "detail": "+900 s from the server"}]


def _import(ctx: ServiceContext, creds: AdminCredentials, **extra: object) -> str:
    account_id = auth.login(ctx, creds.account_name, creds.password).account_id
    code = activation.create_code(ctx, account_id)
    return agents.import_source(ctx, code_id=code.code.id, code=code.secret,
                                inventory={**make_inventory("web-01"), **extra}).source_id


def _line(html: str) -> str:
    return html.split('id="preflight">', 1)[1].split("</dd>", 1)[0]


def test_source_page_shows_the_preflight_line(
    console_ctx: tuple[ServiceContext, AdminCredentials], client: TestClient,
) -> None:
    source_id = _import(*console_ctx, preflight=REPORT)
    line = _line(client.get(f"/sources/{source_id}").text)
    assert '<span class="badge ok"' in line and "root" in line
    assert '<span class="badge err"' in line and "clock: +900 s from the server" in line
    assert "running as root</" not in line  # an OK check shows only its name


def test_source_without_a_report_says_so(
    console_ctx: tuple[ServiceContext, AdminCredentials], client: TestClient,
) -> None:
    source_id = _import(*console_ctx)
    assert "未上报" in _line(client.get(f"/sources/{source_id}").text)
