"""GlancePublisher: one Glance image per disk (openstacksdk session), checksum verified."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any, TypedDict

from rehost.domain import errors
from rehost.domain.publish import GlanceTarget
from rehost.jsonvalue import JsonObject
from rehost.storage.publish_ports import ProgressFn, PublishDisk, PublishOrder

CHUNK_BYTES = 4 << 20
PROGRESS_EVERY_BYTES = 64 << 20

try:  # the publish extra (openstacksdk)
    import openstack
    from keystoneauth1 import exceptions as ks_errors
except ImportError:  # pragma: no cover - the test profile installs it
    openstack = None  # type: ignore[assignment]


class GlanceImage(TypedDict, total=False):
    """The fields of a Glance image document that a publication reads."""

    id: str
    status: str
    disk_format: str
    size: int | None
    os_hash_algo: str | None
    os_hash_value: str | None
    checksum: str | None


def tag(image_id: str, index: int) -> str:
    """The Glance tag that finds a disk's image again (a retry reuses what it finds)."""
    return f"rehost:{image_id}:disk-{index}"


def sha512_file(path: Any) -> str:
    """Glance's default os_hash_algo over a file."""
    digest = hashlib.sha512()
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _failed(what: str, exc: Exception) -> errors.RehostError:
    return errors.RehostError("Publish.GlanceFailed", f"Glance: {what} failed: {exc}",
                              f"Glance：{what}失败：{exc}")


class GlancePublisher:
    """An OpenStack image service of a region."""

    def __init__(self, target: GlanceTarget) -> None:
        if openstack is None:
            raise errors.RehostError(
                "Publish.GlanceMissing", "openstacksdk is not installed on this server: "
                "pip install 'rehost[publish]'.", "本服务器未安装 openstacksdk：请执行 "
                "pip install 'rehost[publish]'。")
        self.target = target

    def connect(self) -> Any:
        """An authenticated image-service adapter (clouds.yaml entry, or no auth)."""
        try:
            if self.target.cloud:
                return openstack.connect(cloud=self.target.cloud).image
            return openstack.connect(auth_type="none", endpoint=self.target.endpoint,
                                     load_yaml_config=False, load_envvars=False).image
        except Exception as exc:  # openstacksdk raises many kinds for a bad cloud entry
            raise errors.RehostError(
                "Publish.GlanceUnreachable", f"cannot use the Glance target ({exc}); check the "
                "region's glance endpoint or cloud.", f"无法使用 Glance 发布目标（{exc}）；请检查"
                "该地域的 glance endpoint 或 cloud。") from exc

    def publish(self, order: PublishOrder, *, progress: ProgressFn,
                start: bool) -> JsonObject:
        """Upload each disk once; a retry keeps a verified image and replaces a broken one."""
        del start  # Glance stores images; nothing to boot
        image = self.connect()
        images: dict[str, JsonObject] = {}
        remote: JsonObject = {"images": images}
        done = 0
        try:
            for disk in order.disks:
                images[str(disk.index)] = self._disk(image, order, disk, done, progress,
                                                     remote, images)
                done += disk.path.stat().st_size
                progress(done, dict(remote))
        except ks_errors.ClientException as exc:
            raise _failed("uploading", exc) from exc
        return remote

    def _disk(self, image: Any, order: PublishOrder, disk: PublishDisk, done: int,
              progress: ProgressFn, remote: JsonObject,
              images: dict[str, JsonObject]) -> JsonObject:
        want = sha512_file(disk.path)
        for found in self._tagged(image, order.image_id, disk.index):
            if found.get("status") == "active" and found.get("os_hash_value") == want:
                return _entry(found, reused=True)  # an earlier attempt finished this disk
            image.delete(f"/images/{found['id']}")  # queued, saving or different: redo
        created: GlanceImage = image.post("/images", json=self._body(order, disk)).json()
        images[str(disk.index)] = {"id": created["id"], "status": "queued"}
        progress(done, dict(remote))
        image.put(f"/images/{created['id']}/file", data=self._chunks(disk, done, progress,
                                                                   remote),
                  headers={"Content-Type": "application/octet-stream"})
        doc: GlanceImage = image.get(f"/images/{created['id']}").json()
        if doc.get("status") != "active" or doc.get("os_hash_value") != want:
            raise errors.RehostError(
                "Publish.ChecksumMismatch", f"Glance image {created['id']} of disk "
                f"{disk.index} is {doc.get('status')} with sha512 {doc.get('os_hash_value')}, "
                f"not {want}; publish again.", f"磁盘 {disk.index} 的 Glance 镜像 "
                f"{created['id']} 状态为 {doc.get('status')}，sha512 不一致；请重新发布。")
        return _entry(doc, reused=False)

    @staticmethod
    def _tagged(image: Any, image_id: str, index: int) -> list[GlanceImage]:
        found: list[GlanceImage] = image.get(
            "/images", params={"tag": tag(image_id, index)}).json()["images"]
        return found

    def _body(self, order: PublishOrder, disk: PublishDisk) -> JsonObject:
        name = order.name if disk.index == 0 else f"{order.name}-disk-{disk.index}"
        body: JsonObject = {
            "name": name, "disk_format": disk.format, "container_format": "bare",
            "visibility": self.target.visibility, "tags": [tag(order.image_id, disk.index)],
            "hw_disk_bus": "virtio", "rehost_image_id": order.image_id,
            "rehost_source_id": order.source_id, "rehost_disk_index": str(disk.index),
            "min_disk": -(-disk.size_bytes // (1 << 30)),  # GiB, rounded up
        }
        if disk.index == 0:
            body["min_ram"] = order.size.memory_mib
            if order.boot_mode == "UEFI":
                body["hw_firmware_type"] = "uefi"
            if order.os_distro:
                body["os_distro"] = order.os_distro
        return body

    @staticmethod
    def _chunks(disk: PublishDisk, done: int, progress: ProgressFn,
                remote: Mapping[str, Any]) -> Iterator[bytes]:
        sent = last = 0
        with disk.path.open("rb") as f:
            while block := f.read(CHUNK_BYTES):
                sent += len(block)
                if sent - last >= PROGRESS_EVERY_BYTES:
                    last = sent
                    progress(done + sent, dict(remote))
                yield block

    def revert(self, remote: Mapping[str, Any]) -> None:
        """Delete the Glance images this publication made."""
        image = self.connect()
        for entry in dict(remote.get("images", {})).values():
            image.delete(f"/images/{entry['id']}", raise_exc=False)


def _entry(doc: GlanceImage, *, reused: bool) -> JsonObject:
    return {"id": doc["id"], "status": doc.get("status"), "disk_format": doc.get("disk_format"),
            "size_bytes": doc.get("size"), "os_hash_algo": doc.get("os_hash_algo"),
            "os_hash_value": doc.get("os_hash_value"), "checksum_md5": doc.get("checksum"),
            "reused": reused}
