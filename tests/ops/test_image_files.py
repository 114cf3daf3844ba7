"""Image location in describe, disk download with HTTP Range (and resume), qemu-img export."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rehost.api.app import create_app
from rehost.client import Transport
from rehost.domain.rules import JobRequest
from rehost.services import accounts, dataplane, jobs, regions, runs
from rehost.services.context import ServiceContext

MIB = 1 << 20
PATTERN = (bytes(range(256)) * 4096)[: 3 * MIB]  # 3 MiB with data, then a 1 MiB hole


@pytest.fixture
def api(ctl_ctx: ServiceContext, ctl_account: Any) -> Iterator[tuple[TestClient, dict[str, str]]]:
    key = accounts.create_access_key(ctl_ctx, ctl_account.id)
    token = base64.b64encode(f"{key.key.id}:{key.secret}".encode()).decode()
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx)) as client:
        yield client, {"Authorization": f"Basic {token}"}


@pytest.fixture
def image(ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any) -> tuple[str, Path]:
    """A Finished job's image: disk-0.raw (4 MiB, sparse tail) in the local region's store."""
    src = ctl_source()
    job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest())
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    image_id = "m-" + uuid.uuid4().hex[:20]
    store = regions.get_region(ctl_ctx, ctl_account.id, "local").image_store_path
    directory = Path(store) / image_id
    directory.mkdir(parents=True)
    disk = directory / "disk-0.raw"
    with disk.open("wb") as handle:
        handle.write(PATTERN)
        handle.truncate(4 * MIB)
    dataplane.finish_job(ctl_ctx, job.id, image_id=image_id, manifest={
        "disks": [{"index": 0, "file": "disk-0.raw", "format": "raw", "size_bytes": 4 * MIB}]})
    return image_id, disk


def test_describe_shows_the_location(api: tuple[TestClient, dict[str, str]],
                                     image: tuple[str, Path]) -> None:
    client, auth = api
    image_id, disk = image
    doc = client.get(f"/api/v1/images/{image_id}", headers=auth).json()
    location = doc["location"]
    assert location["path"] == str(disk.parent) and location["transit_host"] is None
    assert location["disks"] == [{"index": 0, "path": str(disk), "format": "raw",
                                  "size_bytes": 4 * MIB,
                                  "url": f"/api/v1/images/{image_id}/disks/0"}]


def test_download_whole_and_ranges(api: tuple[TestClient, dict[str, str]],
                                   image: tuple[str, Path]) -> None:
    client, auth = api
    image_id, disk = image
    url = f"/api/v1/images/{image_id}/disks/0"
    whole = client.get(url, headers=auth)
    assert whole.status_code == 200 and whole.content == disk.read_bytes()
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get(url, headers={**auth, "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == PATTERN[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{4 * MIB}"
    assert client.get(url).status_code == 401  # no AccessKey, no disk


def test_transport_download_resumes_a_partial_file(api: tuple[TestClient, dict[str, str]],
                                                   image: tuple[str, Path],
                                                   tmp_path: Path) -> None:
    client, auth = api
    image_id, disk = image
    client.headers.update(auth)
    target = tmp_path / "disk.raw"
    target.write_bytes(PATTERN[:12345])  # an interrupted earlier download
    written = Transport("http://testserver", http=client).download(
        f"/images/{image_id}/disks/0", target)
    assert written == 4 * MIB - 12345 and target.read_bytes() == disk.read_bytes()


@pytest.mark.parametrize("fmt", ["vmdk", "vhdx", "qcow2"])
def test_export_converts_with_qemu_img(api: tuple[TestClient, dict[str, str]],
                                       image: tuple[str, Path], fmt: str) -> None:
    client, auth = api
    image_id, disk = image
    r = client.post(f"/api/v1/images/{image_id}/export", json={"format": fmt}, headers=auth)
    assert r.status_code == 200, r.text
    exported = Path(r.json()["disks"][0]["path"])
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(exported)],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["format"] == fmt and info["virtual-size"] == 4 * MIB
    subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", fmt, str(disk), str(exported)],
                   check=True, capture_output=True)
    got = client.get(f"/api/v1/images/{image_id}/disks/0", params={"format": fmt},
                     headers=auth)
    assert got.status_code == 200 and got.content == exported.read_bytes()
    assert r.json()["disks"][0]["url"].endswith(f"?format={fmt}")


def test_bad_requests_are_named(api: tuple[TestClient, dict[str, str]],
                                image: tuple[str, Path]) -> None:
    client, auth = api
    image_id, _ = image
    base = f"/api/v1/images/{image_id}"
    bad_format = client.post(f"{base}/export", json={"format": "vdi"}, headers=auth)
    assert bad_format.status_code == 400 and "qcow2, vmdk, vhdx" in bad_format.json()["message"]
    zh = client.post(f"{base}/export", json={"format": "vdi"},
                     headers={**auth, "Accept-Language": "zh-CN"})
    assert "只能是" in zh.json()["message"]
    no_disk = client.get(f"{base}/disks/3", headers=auth)
    assert no_disk.status_code == 404 and "has no disk 3" in no_disk.json()["message"]
    not_yet = client.get(f"{base}/disks/0", params={"format": "vmdk"}, headers=auth)
    assert not_yet.status_code == 404 and "rehost image export" in not_yet.json()["message"]
    unknown = client.get("/api/v1/images/m-nope/disks/0", headers=auth)
    assert unknown.status_code == 404
