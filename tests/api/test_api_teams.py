"""Teams over REST: roles on every write route (from the route table), keys, passwords,
account isolation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.teams import basic, concrete, member, write_routes
from conftest import make_inventory
from rehost.api.app import create_app
from rehost.domain.authz import Role
from rehost.services import accounts, auth
from rehost.services.context import ServiceContext

# writes that are not an AccessKey user's: agent and transit-host tokens, host registration
NOT_BASIC = ("/api/v1/agent/", "/api/v1/transit-hosts/self/")
HOST_REGISTRATION = ("POST", "/api/v1/transit-hosts")
# the caller's own credentials: every role may
OWN = {("POST", "/api/v1/me/password"), ("POST", "/api/v1/credentials/confirm")}
ADMINISTRATION = ("/api/v1/users", "/api/v1/regions", "/api/v1/transit-host-codes",
                  "/api/v1/transit-hosts")


@pytest.fixture
def client(ctl_ctx: ServiceContext) -> Iterator[TestClient]:
    """The app on the test context."""
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx)) as c:
        yield c


@pytest.fixture
def admin(ctl_ctx: ServiceContext, ctl_account: Any) -> dict[str, str]:
    """Basic auth of the account's owner."""
    key = accounts.create_access_key(ctl_ctx, ctl_account.id)
    return basic(key.key.id, key.secret)


def _user_writes(client: TestClient) -> list[tuple[str, str]]:
    routes = write_routes(client.app)  # type: ignore[arg-type]
    return [(m, p) for m, p in routes if not p.startswith(NOT_BASIC)
            and (m, p) != HOST_REGISTRATION and (m, p) not in OWN]


def _refused(client: TestClient, method: str, path: str, auth: dict[str, str]) -> None:
    r = client.request(method, concrete(path), json={}, headers=auth)
    assert r.status_code == 403, (method, path, r.status_code, r.text)
    body = r.json()
    assert body["code"] == "Forbidden.Unauthorized", (method, path, body)
    assert f"{method} {path}" in body["message"]


def test_route_table_is_covered(client: TestClient) -> None:
    writes = write_routes(client.app)  # type: ignore[arg-type]
    assert len(writes) >= 30 and set(writes) >= OWN and HOST_REGISTRATION in writes
    for method, path in writes:  # the exempt ones really do not take an AccessKey user
        if path.startswith(NOT_BASIC) or (method, path) == HOST_REGISTRATION:
            r = client.request(method, concrete(path), json={})
            assert r.status_code in (400, 401, 404, 422), (method, path, r.text)


def test_read_only_every_write_refused(client: TestClient, ctl_ctx: ServiceContext,
                                       ctl_account: Any) -> None:
    _, reader = member(ctl_ctx, ctl_account.id, Role.READ_ONLY)
    writes = _user_writes(client)
    for method, path in writes:
        _refused(client, method, path, reader)
    for path in ("/api/v1/jobs", "/api/v1/sources", "/api/v1/regions", "/api/v1/users",
                 "/api/v1/images", "/api/v1/activation-codes", "/api/v1/me"):
        assert client.get(path, headers=reader).status_code == 200, path


def test_operator_refused_administration_only(client: TestClient, ctl_ctx: ServiceContext,
                                              ctl_account: Any) -> None:
    _, operator = member(ctl_ctx, ctl_account.id, Role.OPERATOR)
    admin_writes = [(m, p) for m, p in _user_writes(client) if p.startswith(ADMINISTRATION)]
    assert {p.split("/")[3] for _, p in admin_writes} >= {
        "users", "regions", "transit-host-codes", "transit-hosts"}
    for method, path in admin_writes:
        _refused(client, method, path, operator)
    code = client.post("/api/v1/activation-codes", json={"count": 1}, headers=operator)
    assert code.status_code == 201, code.text
    assert client.get("/api/v1/users", headers=operator).status_code == 200


def test_users_and_keys_lifecycle(client: TestClient, ctl_ctx: ServiceContext,
                                  admin: dict[str, str]) -> None:
    made = client.post("/api/v1/users", headers=admin,
                       json={"name": "bob", "role": "operator", "password": "bob-pass-1"})
    assert made.status_code == 201, made.text
    user_id = made.json()["user_id"]
    assert made.json()["role"] == "operator" and "bob-pass-1" not in made.text
    key = client.post(f"/api/v1/users/{user_id}/keys", headers=admin).json()
    bob = basic(key["access_key_id"], key["access_key_secret"])
    assert client.get("/api/v1/me", headers=bob).json()["user_name"] == "bob"
    listed = client.get(f"/api/v1/users/{user_id}/keys", headers=admin).json()["keys"]
    assert [k["access_key_id"] for k in listed] == [key["access_key_id"]]
    assert listed[0]["last_used_at"] is not None and "access_key_secret" not in listed[0]
    base = f"/api/v1/users/{user_id}/keys/{key['access_key_id']}"
    assert client.post(base + "/disable", headers=admin).json()["enabled"] is False
    refused = client.get("/api/v1/jobs", headers=bob)  # at once: nothing cached
    assert refused.status_code == 401 and refused.json()["code"] == "InvalidAccessKeyId.NotFound"
    assert client.post(base + "/enable", headers=admin).status_code == 200
    assert client.get("/api/v1/jobs", headers=bob).status_code == 200
    assert client.delete(base, headers=admin).status_code == 200
    assert client.get("/api/v1/jobs", headers=bob).status_code == 401
    second = client.post(f"/api/v1/users/{user_id}/keys", headers=admin).json()
    assert client.patch(f"/api/v1/users/{user_id}", headers=admin,
                        json={"role": "read-only"}).json()["role"] == "read-only"
    reader = basic(second["access_key_id"], second["access_key_secret"])
    assert client.post("/api/v1/activation-codes", json={}, headers=reader).status_code == 403
    assert client.delete(f"/api/v1/users/{user_id}", headers=admin).status_code == 200
    assert client.get("/api/v1/jobs", headers=reader).status_code == 401  # keys went with it


def test_bad_user_input_named(client: TestClient, admin: dict[str, str]) -> None:
    for body, field in (({"name": "b@d", "role": "admin", "password": "long-enough"}, "UserName"),
                        ({"name": "carol", "role": "admin", "password": "short"}, "Password")):
        r = client.post("/api/v1/users", json=body, headers=admin)
        assert r.status_code == 400 and r.json()["code"] == f"InvalidParameter.{field}", r.text
    r = client.post("/api/v1/users", json={"name": "x1", "role": "root", "password": "p" * 9},
                    headers=admin)
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter.Role"
    body = {"name": "dave", "role": "operator", "password": "dave-pass-1"}
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 201
    dup = client.post("/api/v1/users", json=body, headers=admin)
    assert dup.json()["code"] == "UserName.Duplicate"


def test_owner_protected_and_passwords(client: TestClient, ctl_ctx: ServiceContext,
                                       ctl_account: Any, admin: dict[str, str]) -> None:
    owner = next(u for u in client.get("/api/v1/users", headers=admin).json()["users"]
                 if u["owner"])
    assert owner["name"] == ctl_account.name and owner["role"] == "admin"
    for r in (client.delete(f"/api/v1/users/{owner['user_id']}", headers=admin),
              client.patch(f"/api/v1/users/{owner['user_id']}", json={"role": "operator"},
                           headers=admin)):
        assert r.status_code == 400 and r.json()["code"] == "User.OwnerProtected", r.text
    reader_id, reader = member(ctl_ctx, ctl_account.id, Role.READ_ONLY, name="rita")
    wrong = client.post("/api/v1/me/password", headers=reader,
                        json={"old_password": "nope-nope", "new_password": "rita-new-pass"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "InvalidParameter.OldPassword"
    ok = client.post("/api/v1/me/password", headers=reader,
                     json={"old_password": "pw-read-only-123", "new_password": "rita-new-pass"})
    assert ok.status_code == 200, ok.text
    login = f"rita@{ctl_account.name}"
    assert auth.login(ctl_ctx, login, "rita-new-pass").role is Role.READ_ONLY
    reset = client.post(f"/api/v1/users/{reader_id}/password", headers=admin,
                        json={"password": "reset-by-admin"})
    assert reset.status_code == 200 and reset.json()["password_changed_at"]
    assert auth.login(ctl_ctx, login, "reset-by-admin").user_id == reader_id


def test_accounts_isolated(client: TestClient, ctl_ctx: ServiceContext, ctl_account: Any,
                           admin: dict[str, str]) -> None:
    code = client.post("/api/v1/activation-codes", json={"count": 1}, headers=admin).json()
    source = client.post("/api/v1/agent/import", json={
        "code_id": code["code_id"], "code": code["code"], "inventory": make_inventory()}).json()
    mine = client.get("/api/v1/sources", headers=admin).json()
    assert [s["source_id"] for s in mine["sources"]] == [source["source_id"]]
    other = accounts.create_account(ctl_ctx, name="b-" + ctl_account.name, password="b-pass-123")
    _, b_user = member(ctl_ctx, other.id, Role.ADMIN, name="bea")
    assert client.get("/api/v1/sources", headers=b_user).json()["sources"] == []
    assert client.get("/api/v1/jobs", headers=b_user).json()["jobs"] == []
    assert client.get(f"/api/v1/sources/{source['source_id']}",
                      headers=b_user).status_code == 404
    a_users = client.get("/api/v1/users", headers=admin).json()["users"]
    assert client.get(f"/api/v1/users/{a_users[0]['user_id']}", headers=b_user).status_code == 404
    assert [u["name"] for u in client.get("/api/v1/users", headers=b_user).json()["users"]] == [
        other.name, "bea"]
