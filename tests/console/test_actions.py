"""Image actions, transit hosts and the region forms, through the real services."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from console.conftest import csrf_of
from console.world import World
from rehost.services import auth, host_codes, images, regions, transit_hosts
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext

Ctx = tuple[ServiceContext, AdminCredentials]


def _account(ctx: Ctx) -> str:
    return auth.login(ctx[0], ctx[1].account_name, ctx[1].password).account_id


def _flash(client: TestClient, path: str) -> str:
    return " ".join(re.findall(r'<div class="flash \w+" role="\w+">([^<]*)</div>',
                               client.get(path).text))


def test_image_download_verify_and_delete(console_ctx: Ctx, client: TestClient,
                                          world: World) -> None:
    ctx, account = console_ctx[0], _account(console_ctx)
    store = Path(regions.get_region(ctx, account, "local").image_store_path)  # type: ignore[arg-type]
    (store / world.image_id).mkdir(parents=True, exist_ok=True)
    (store / world.image_id / "disk-0.raw").write_bytes(b"boot" * 1024)
    page = client.get("/images").text
    assert f'href="/images/{world.image_id}/disks/0" download' in page
    got = client.get(f"/images/{world.image_id}/disks/0", headers={"Range": "bytes=4-11"})
    assert got.status_code == 206 and got.content == b"bootboot"
    missing = client.get(f"/images/{world.image_id}/disks/1")
    assert missing.status_code == 404 and "ImageDisk.NotFound" not in missing.text
    assert "不存在" in missing.text
    refused = client.post("/images/m-nosuchimage/verify", data={"csrf_token": csrf_of(page)},
                          follow_redirects=False)
    assert refused.status_code == 303
    assert "InvalidImageId.NotFound" in _flash(client, "/images")
    client.post(f"/images/{world.image_id}/delete", data={"csrf_token": csrf_of(page)})
    assert images.describe_images(ctx, account).total_count == 0  # type: ignore[arg-type]
    assert not (store / world.image_id).exists()


def test_transit_hosts_page_lists_and_revokes(console_ctx: Ctx, client: TestClient) -> None:
    ctx, account = console_ctx[0], _account(console_ctx)
    assert "尚未注册中转主机" in client.get("/transit-hosts").text
    code = host_codes.create_code(ctx, account, region_id="local",  # type: ignore[arg-type]
                                  host_name="transit-1.dc2").secret
    host = transit_hosts.register_host(ctx, code=code, name="host-a",
                                       data_endpoint="transit-1.dc2:7100").host
    page = client.get("/transit-hosts").text
    assert f'data-host-id="{host.id}"' in page and "离线" in page and "transit-1.dc2:7100" in page
    client.post(f"/transit-hosts/{host.id}/revoke", data={"csrf_token": csrf_of(page)})
    assert "已吊销" in client.get("/transit-hosts").text
    client.post(f"/transit-hosts/{host.id}/reboot", data={"csrf_token": csrf_of(page)},
                follow_redirects=False)
    assert "reboot" in _flash(client, "/transit-hosts")


def test_region_create_shows_every_error_then_creates(console_ctx: Ctx, client: TestClient,
                                                      tmp_path: Path) -> None:
    form = client.get("/regions/new").text
    data = {"csrf_token": csrf_of(form), "region_id": "Bad Id", "name": "x" * 129,
            "image_store_path": "", "image_format": "raw", "network_quota": "0",
            "reserved_slots": "0", "system_min_gib": "10", "system_max_gib": "5",
            "data_min_gib": "1", "data_max_gib": "many"}
    bad = client.post("/regions/new", data=data)
    assert bad.status_code == 400
    shown = set(re.findall(r'id="([a-z_]+)-error"', bad.text))
    assert shown == {"region_id", "name", "network_quota", "limits"}
    good = {**data, "region_id": "dc-2", "name": "DC 2", "network_quota": "4",
            "system_max_gib": "50", "data_max_gib": "100",
            "image_store_path": "", "verify_after_migration": "1"}
    created = client.post("/regions/new", data=good, follow_redirects=False)
    assert created.status_code == 303, re.findall(r'role="alert">([^<]*)<', created.text)
    region = regions.get_region(console_ctx[0], _account(console_ctx), "dc-2")  # type: ignore[arg-type]
    assert (region.network_quota, region.limits.system_min_gib, region.verify_after_migration) \
        == (4, 10, True)
    edit = client.get("/regions/dc-2/edit").text
    assert 'value="dc-2" maxlength="64" readonly' in edit
    changed = {**good, "csrf_token": csrf_of(edit), "network_quota": "8", "name": "DC two"}
    changed.pop("verify_after_migration")
    assert client.post("/regions/dc-2/edit", data=changed,
                       follow_redirects=False).status_code == 303
    region = regions.get_region(console_ctx[0], _account(console_ctx), "dc-2")  # type: ignore[arg-type]
    assert (region.name, region.network_quota, region.verify_after_migration) == (
        "DC two", 8, False)
    assert "8" in client.get("/regions").text and 'href="/regions/dc-2/edit"' in client.get(
        "/regions").text
    assert client.get("/regions/nope/edit").status_code == 404
