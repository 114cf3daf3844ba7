"""The agent's pre-flight report travels in the import's inventory, is checked, kept across
heartbeats that carry none, and shown in the source document."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import make_inventory
from rehost.api.schemas import source_out
from rehost.domain.errors import InvalidParameter
from rehost.services import activation, agents, sources
from rehost.services.context import ServiceContext

REPORT = [{"name": "root", "level": "OK", "detail": "running as root"},
          {"name": "clock", "level": "FAIL", "detail": "+900 s from the server"}]


def _import(ctx: ServiceContext, account: Any, inventory: dict[str, Any]) -> agents.ImportResult:
    code = activation.create_code(ctx, account.id, count=1, ttl_days=1)
    return agents.import_source(ctx, code_id=code.code.id, code=code.secret, inventory=inventory)


def test_report_is_stored_kept_and_shown(ctl_ctx: ServiceContext, ctl_account: Any) -> None:
    done = _import(ctl_ctx, ctl_account, {**make_inventory(), "preflight": REPORT})
    agents.heartbeat(ctl_ctx, done.agent_token, inventory=make_inventory())  # no report
    doc = source_out(sources.get_source(ctl_ctx, ctl_account.id, done.source_id)).model_dump()
    assert doc["preflight"] == REPORT


@pytest.mark.parametrize("bad", [
    "OK", [{"name": "root", "level": "MAYBE", "detail": ""}],
    [{"name": "root", "level": "OK"}], [{"name": "x", "level": "OK", "detail": "y"}] * 65,
])
def test_malformed_report_is_refused(ctl_ctx: ServiceContext, ctl_account: Any,
                                     bad: object) -> None:
    with pytest.raises(InvalidParameter) as err:
        _import(ctl_ctx, ctl_account, {**make_inventory(), "preflight": bad})
    assert err.value.code == "InvalidParameter.Inventory.Preflight"
    assert "preflight" in err.value.message and "preflight" in err.value.message_zh


def test_source_without_a_report_shows_an_empty_list(ctl_ctx: ServiceContext,
                                                     ctl_account: Any) -> None:
    done = _import(ctl_ctx, ctl_account, make_inventory())
    assert source_out(sources.get_source(ctl_ctx, ctl_account.id, done.source_id)).preflight == []
