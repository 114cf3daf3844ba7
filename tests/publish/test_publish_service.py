"""Publishing through the service: progress recorded as it goes, a retry after a failure gets
what the failed attempt made, a running publication is not started twice, revert removes it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rehost.db.tables import ImageRow
from rehost.domain import errors
from rehost.domain.publish import PublishStatus, Target
from rehost.services import publish, publish_targets
from rehost.services.context import ServiceContext
from rehost.storage.publish_ports import ProgressFn, Publisher, PublishOrder

MIB = 1 << 20


class FakePublisher:
    """Records orders; fails once after the first disk when asked (like a dropped link)."""

    def __init__(self, *, fail_after_first: bool = False) -> None:
        self.orders: list[PublishOrder] = []
        self.reverted: list[Mapping[str, Any]] = []
        self.fail_after_first = fail_after_first

    def publish(self, order: PublishOrder, *, progress: ProgressFn,
                start: bool) -> dict[str, Any]:
        self.orders.append(order)
        remote: dict[str, Any] = {"volumes_done": list(order.previous.get("volumes_done", []))}
        done = 0
        for disk in order.disks:
            name = f"v{disk.index}"
            if name not in remote["volumes_done"]:
                remote["volumes_done"].append(name)
            done += disk.path.stat().st_size
            progress(done, remote)
            if self.fail_after_first:
                self.fail_after_first = False
                raise OSError("connection reset by peer")
        return {**remote, "started": start}

    def revert(self, remote: Mapping[str, Any]) -> None:
        self.reverted.append(remote)


def make_image(ctx: ServiceContext, account_id: str, tmp_path: Path) -> str:
    """An image row with two raw disk files in its directory."""
    for index in (0, 1):
        with (tmp_path / f"disk-{index}.raw").open("wb") as f:
            f.truncate(2 * MIB)
    manifest = {"path": str(tmp_path), "boot_mode": "UEFI", "disks": [
        {"index": i, "file": f"disk-{i}.raw", "format": "raw", "size_bytes": 2 * MIB}
        for i in (0, 1)]}
    image_id = ctx.new_id("m")  # the module shares one database
    with ctx.db.transaction() as session:
        session.add(ImageRow(id=image_id, account_id=account_id, region_id="local",
                             name="web", job_id=None, source_id=None, manifest=manifest,
                             created_at=ctx.now()))
    return image_id


@pytest.fixture
def image_id(ctl_ctx: ServiceContext, ctl_account: Any, tmp_path: Path) -> str:
    publish_targets.set_target(ctl_ctx, ctl_account.id, "local", "libvirt",
                               {"uri": "qemu:///system", "pool": "default"})
    return make_image(ctl_ctx, ctl_account.id, tmp_path)


def factory(fake: FakePublisher) -> Any:
    def make(target: Target) -> Publisher:
        return fake
    return make


def test_a_retry_after_a_failure_gets_what_the_first_attempt_made(
        ctl_ctx: ServiceContext, ctl_account: Any, image_id: str) -> None:
    fake = FakePublisher(fail_after_first=True)
    with pytest.raises(errors.RehostError) as caught:
        publish.publish_image(ctl_ctx, ctl_account.id, image_id, target="libvirt",
                              publishers=factory(fake))
    assert caught.value.code == "Publish.Failed" and "publish again" in caught.value.message
    failed, = publish.list_publications(ctl_ctx, ctl_account.id, image_id)
    assert failed.status == PublishStatus.FAILED and failed.bytes_done == 2 * MIB
    assert failed.bytes_total == 4 * MIB and failed.remote == {"volumes_done": ["v0"]}
    done = publish.publish_image(ctl_ctx, ctl_account.id, image_id, target="libvirt",
                                 start=True, publishers=factory(fake))
    assert fake.orders[1].previous == {"volumes_done": ["v0"]}
    assert done.status == PublishStatus.PUBLISHED and done.bytes_done == 4 * MIB
    assert done.remote == {"volumes_done": ["v0", "v1"], "started": True}
    order = fake.orders[1]
    assert order.boot_mode == "UEFI" and order.size.origin == "default"
    assert [d.index for d in order.disks] == [0, 1]


def test_a_running_publication_is_not_started_twice_until_stale(
        ctl_ctx: ServiceContext, ctl_account: Any, image_id: str, ctl_clock: Any) -> None:
    publish._begin(ctl_ctx, ctl_account.id, image_id, "libvirt")
    with pytest.raises(errors.InvalidStatus, match="being published"):
        publish.publish_image(ctl_ctx, ctl_account.id, image_id, target="libvirt",
                              publishers=factory(FakePublisher()))
    ctl_clock.advance(seconds=publish.STALE_AFTER / timedelta(seconds=1) + 1)
    done = publish.publish_image(ctl_ctx, ctl_account.id, image_id, target="libvirt",
                                 publishers=factory(FakePublisher()))
    assert done.status == PublishStatus.PUBLISHED


def test_unconfigured_targets_start_on_glance_and_revert(
        ctl_ctx: ServiceContext, ctl_account: Any, image_id: str) -> None:
    fake = FakePublisher()
    with pytest.raises(errors.InvalidStatus, match="publish-target set local --target glance"):
        publish.publish_image(ctl_ctx, ctl_account.id, image_id, target="glance",
                              publishers=factory(fake))
    with pytest.raises(errors.InvalidParameter, match="libvirt target only"):
        publish.publish_image(ctl_ctx, ctl_account.id, image_id, target="glance", start=True,
                              publishers=factory(fake))
    with pytest.raises(errors.NotFound, match="not published"):
        publish.unpublish(ctl_ctx, ctl_account.id, image_id, "libvirt", publishers=factory(fake))
    publish.publish_image(ctl_ctx, ctl_account.id, image_id, target="libvirt",
                          publishers=factory(fake))
    gone = publish.unpublish(ctl_ctx, ctl_account.id, image_id, "libvirt",
                             publishers=factory(fake))
    assert fake.reverted == [gone.remote] and gone.remote["volumes_done"] == ["v0", "v1"]
    assert publish.list_publications(ctl_ctx, ctl_account.id, image_id) == []
    assert fake.orders and not fake.orders[0].previous
