"""Roles through the official SMC SDK: a read-only user's every write action is refused with
`Forbidden.Unauthorized`; reads answer; an operator migrates; a disabled key is refused at once."""

from __future__ import annotations

import httpx
import pytest
from alibabacloud_smc20190601 import models as m
from alibabacloud_smc20190601.client import Client as SmcClient

from rehost.api.smc.router import READ_PREFIXES
from smc.conftest import sdk_client
from smc.live import LiveServer
from smc.test_sdk import refused
from smc.test_sdk_coverage import _snake, sdk_actions


def _member(live: LiveServer, name: str, role: str) -> tuple[str, str, str]:
    """(user id, key id, secret) of a new user made through the REST API by the admin."""
    admin = (live.access_key_id, live.access_key_secret)
    user = httpx.post(f"{live.endpoint}/api/v1/users", auth=admin, timeout=10,
                      json={"name": name, "role": role, "password": f"{name}-password"})
    assert user.status_code == 201, user.text
    user_id = user.json()["user_id"]
    key = httpx.post(f"{live.endpoint}/api/v1/users/{user_id}/keys", auth=admin, timeout=10)
    return user_id, key.json()["access_key_id"], key.json()["access_key_secret"]


@pytest.fixture(scope="module")
def reader(live: LiveServer) -> SmcClient:
    """SDK client of a read-only user."""
    _, key_id, secret = _member(live, "reader", "read-only")
    return sdk_client(live, key_id=key_id, secret=secret)


WRITES = [a for a in sdk_actions() if not a.startswith(READ_PREFIXES)]
READS = [a for a in sdk_actions() if a.startswith(READ_PREFIXES)]


def test_actions_split() -> None:
    assert len(WRITES) >= 15 and "CreateReplicationJob" in WRITES and "TagResources" in WRITES
    assert "DescribeSourceServers" in READS and "ListAccessTokens" in READS


@pytest.mark.parametrize("action", WRITES)
def test_read_only_write_refused(reader: SmcClient, action: str) -> None:
    error = refused(getattr(reader, _snake(action)), getattr(m, f"{action}Request")())
    assert error.code == "Forbidden.Unauthorized", (action, error.code)
    assert "read-only" in error.message and action in error.message and "只读" in error.message


@pytest.mark.parametrize("action", READS)
def test_read_only_reads_answer(reader: SmcClient, action: str) -> None:
    try:
        getattr(reader, _snake(action))(getattr(m, f"{action}Request")())
    except Exception as exc:  # the SDK's ClientException: only a missing parameter
        assert getattr(exc, "code", "") == "MissingParameter", (action, exc)


def test_operator_migrates_and_disabled_key_refused(live: LiveServer) -> None:
    user_id, key_id, secret = _member(live, "olga", "operator")
    operator = sdk_client(live, key_id=key_id, secret=secret)
    made = operator.create_access_token(m.CreateAccessTokenRequest(name="by-operator"))
    assert made.body.access_token_id
    admin = (live.access_key_id, live.access_key_secret)
    disabled = httpx.post(f"{live.endpoint}/api/v1/users/{user_id}/keys/{key_id}/disable",
                          auth=admin, timeout=10)
    assert disabled.status_code == 200, disabled.text
    error = refused(operator.describe_source_servers, m.DescribeSourceServersRequest())
    assert error.code == "InvalidAccessKeyId.NotFound", error.code
