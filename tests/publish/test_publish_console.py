"""The console's images page posts one image to its region's publish target."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from console.conftest import client, console_ctx, csrf_of  # noqa: F401  (fixtures)
from publish.test_publish_service import make_image
from rehost.db.tables import AccountRow
from rehost.domain.publish import PublishStatus
from rehost.services import publish, publish_targets
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext


def test_the_publish_form_reaches_the_service(
        client: TestClient, console_ctx: tuple[ServiceContext, AdminCredentials],  # noqa: F811
        tmp_path: Path) -> None:
    ctx, _ = console_ctx
    with ctx.db.read() as session:
        account_id = session.scalars(select(AccountRow.id)).one()
    image_id = make_image(ctx, account_id, tmp_path)
    page = client.get("/images").text
    assert f'action="/images/{image_id}/publish"' in page and 'value="glance"' in page
    form = {"csrf_token": csrf_of(page), "target": "libvirt"}
    shown = client.post(f"/images/{image_id}/publish", data=form).text
    assert "PublishTarget.NotConfigured" in shown and "未配置 libvirt 发布目标" in shown
    publish_targets.set_target(ctx, account_id, "local", "libvirt", {
        "uri": f"qemu+unix:///system?socket={tmp_path}/absent-sock", "pool": "p"})
    shown = client.post(f"/images/{image_id}/publish", data=form).text
    assert "Publish.LibvirtUnreachable" in shown
    assert client.post(f"/images/{image_id}/publish", data={**form, "csrf_token": "x"},
                       follow_redirects=False).status_code == 403
    failed, = publish.list_publications(ctx, account_id, image_id)
    assert failed.status == PublishStatus.FAILED
    assert failed.error_code == "Publish.LibvirtUnreachable"
