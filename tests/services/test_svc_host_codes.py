"""Transit host registration codes: one use, one host name, expiry, revocation; no AccessKey."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography import x509
from fastapi.testclient import TestClient

from rehost.api.app import create_app
from rehost.domain.errors import InvalidParameter, NotFound, Unauthenticated
from rehost.services import accounts, host_codes, regions
from rehost.services import transit_hosts as th
from rehost.services.context import ServiceContext


@pytest.fixture
def edge(ctl_ctx: ServiceContext, ctl_account: Any) -> str:
    """Region `edge` of the test account."""
    regions.create_region(ctl_ctx, ctl_account.id, region_id="edge")
    return "edge"


def _code(ctx: ServiceContext, account: Any, host: str = "transit-1.dc2", **kw: Any) -> str:
    return host_codes.create_code(ctx, account.id, region_id="edge", host_name=host, **kw).secret


def test_a_code_registers_one_host_of_its_name_once(
        ctl_ctx: ServiceContext, ctl_account: Any, edge: str) -> None:
    code = _code(ctl_ctx, ctl_account)
    with pytest.raises(InvalidParameter, match=r"transit-1\.dc2"):
        th.register_host(ctl_ctx, code=code, name="evil", data_endpoint="api.example:443")
    with pytest.raises(InvalidParameter, match="region"):
        th.register_host(ctl_ctx, code=code, name="host-a", region_id="local",
                         data_endpoint="transit-1.dc2:7100")
    reg = th.register_host(ctl_ctx, code=code, name="host-a", data_endpoint="Transit-1.dc2:7100")
    assert reg.host.region_id == edge and reg.host.account_id == ctl_account.id
    with pytest.raises(Unauthenticated) as again:
        th.register_host(ctl_ctx, code=code, name="host-b", data_endpoint="transit-1.dc2:7100")
    assert again.value.code == "InvalidRegistrationCode" and "注册码" in again.value.message_zh
    (listed,) = host_codes.list_codes(ctl_ctx, ctl_account.id)
    assert listed.used_at is not None and listed.host_id == reg.host.id


def test_expired_codes_and_bad_names_are_refused(
        ctl_ctx: ServiceContext, ctl_account: Any, ctl_clock: Any, edge: str) -> None:
    code = _code(ctl_ctx, ctl_account, ttl_hours=1)
    ctl_clock.advance(seconds=3601)
    with pytest.raises(Unauthenticated):
        th.register_host(ctl_ctx, code=code, name="host-a", data_endpoint="transit-1.dc2:7100")
    for bad in ("", "a b", "-x.example", "x" * 300):
        with pytest.raises(InvalidParameter, match="host name"):
            _code(ctl_ctx, ctl_account, host=bad)
    with pytest.raises(InvalidParameter, match="ttl_hours"):
        _code(ctl_ctx, ctl_account, ttl_hours=0)
    with pytest.raises(NotFound):
        host_codes.create_code(ctl_ctx, ctl_account.id, region_id="nowhere", host_name="h")


def test_revoked_host_token_is_refused_at_once(
        ctl_ctx: ServiceContext, ctl_account: Any, edge: str) -> None:
    reg = th.register_host(ctl_ctx, code=_code(ctl_ctx, ctl_account, host="127.0.0.3"),
                           name="host-a", data_endpoint="127.0.0.3:7100")
    th.heartbeat(ctl_ctx, reg.token)
    other = accounts.create_account(ctl_ctx, name="other-hc", password="pw-123456")
    with pytest.raises(NotFound):
        th.revoke_host(ctl_ctx, other.id, reg.host.id)
    assert th.revoke_host(ctl_ctx, ctl_account.id, reg.host.id).state == th.REVOKED
    with pytest.raises(Unauthenticated):
        th.authenticate(ctl_ctx, reg.token)
    with pytest.raises(Unauthenticated):
        th.heartbeat(ctl_ctx, reg.token)
    with ctl_ctx.db.read() as session:
        assert th.pick_host(ctl_ctx, session, ctl_account.id, edge) is None


def _basic(key: Any) -> dict[str, str]:
    raw = f"{key.key.id}:{key.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_an_access_key_alone_cannot_mint_a_certificate(
        ctl_ctx: ServiceContext, ctl_account: Any, edge: str) -> None:
    key = accounts.create_access_key(ctl_ctx, ctl_account.id)
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx)) as client:
        old_style = client.post("/api/v1/transit-hosts", headers=_basic(key), json={
            "region_id": edge, "name": "x", "data_endpoint": "api.example:443"})
        assert old_style.status_code in (400, 422) and "cert_pem" not in old_style.text
        made = client.post("/api/v1/transit-host-codes", headers=_basic(key),
                           json={"region_id": edge, "host_name": "transit-1.dc2"})
        assert made.status_code == 201 and "registration_code" in made.json()
        assert client.post("/api/v1/transit-host-codes", json={
            "region_id": edge, "host_name": "x"}).status_code == 401
        r = client.post("/api/v1/transit-hosts", json={
            "registration_code": made.json()["registration_code"], "name": "t1",
            "data_endpoint": "transit-1.dc2:7100"})
        assert r.status_code == 201, r.text
        cert = x509.load_pem_x509_certificate(r.json()["cert_pem"].encode())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert [str(n.value) for n in names] == ["transit-1.dc2"]
        revoked = client.post(f"/api/v1/transit-hosts/{r.json()['host_id']}/revoke",
                              headers=_basic(key))
        assert revoked.status_code == 200 and revoked.json()["state"] == "Revoked"
        beat = client.post("/api/v1/transit-hosts/self/heartbeat",
                           headers={"Authorization": f"Bearer {r.json()['host_token']}"})
        assert beat.status_code == 401
