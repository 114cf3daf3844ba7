"""A migrated image published to a real libvirtd (booted from there) and to a real glance-api.

One `rehost server` and one migrated sample image (BIOS) for the module; the libvirtd and
glance-api are started by the fixtures (tests/publish/servers.py), on loopback or private
sockets. TCG is fine: the domain type is `qemu`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from oscorpus.corpus import corpus_image
from oscorpus.corpus import missing_tools as corpus_missing_tools
from publish.servers import (
    LibvirtHost,
    glance_missing,
    libvirt_missing,
    running_glance,
    running_libvirtd,
)
from rehost.sample import build_boot_disk, expected_marker
from rehost.sample import missing_tools as sample_missing_tools
from rehost.sample.stack import LocalStack, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.qemu, pytest.mark.xdist_group("publish")]
MIB = 1024**2
JOB_TIMEOUT_S = 240.0
BOOT_TIMEOUT_S = 240.0
LOGIN_TIMEOUT_S = 480.0  # systemd to a getty under TCG on a loaded 2-core machine: 216 s seen
POOL = "rehost-test"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    missing = (sample_missing_tools() + libvirt_missing() + glance_missing()
               + corpus_missing_tools())
    assert not missing, f"missing tools {missing}: run scripts/install-system-deps.sh test"
    running = start_stack(tmp_path_factory.mktemp("publish-stack") / "run")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def migrated(stack: LocalStack) -> dict[str, Any]:
    """A sample BIOS disk migrated by a real agent: the image document and its boot line."""
    disk = build_boot_disk(stack.root / "src-system.img", boot_mode="BIOS", size_bytes=384 * MIB)
    source_id = stack.import_source(stack.root / "agent", system=disk.path, name="pubsrc")
    stack.start_agent(stack.root / "agent")
    job = stack.json("job", "create", "--source", source_id, "--mode", "immediate",
                     "--region", "local", "--image-name", "published")
    doc = stack.wait_job(str(job["job_id"]), timeout_s=JOB_TIMEOUT_S)
    assert doc["status"] == "Finished", (doc, stack.logs_tail())
    image: dict[str, Any] = stack.json("image", "describe", str(doc["image_id"]))
    return {"image": image, "marker": expected_marker(disk)}


@pytest.fixture(scope="module")
def libvirt_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LibvirtHost]:
    with running_libvirtd(tmp_path_factory.mktemp("libvirtd")) as host:
        yield host


@pytest.fixture(scope="module")
def glance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_glance(tmp_path_factory.mktemp("glance")) as endpoint:
        yield endpoint


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as f:
        while block := f.read(4 * MIB):
            digest.update(block)
    return digest.hexdigest()


def _wait_for_line(log: Path, wanted: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if wanted in text:
            return text
        time.sleep(1.0)
    raise AssertionError(f"{wanted!r} not on the console after {timeout_s} s: "
                         f"{(log.read_text(errors='replace') if log.exists() else '')[-1500:]}")


def test_libvirt_publish_boot_launch_and_revert(stack: LocalStack, migrated: dict[str, Any],
                                                libvirt_host: LibvirtHost) -> None:
    image = migrated["image"]
    image_id, disk0 = image["image_id"], image["location"]["disks"][0]
    pool_dir = stack.root / "pool"
    stack.json("region", "publish-target", "set", "local", "--target", "libvirt", "--uri",
               libvirt_host.uri, "--pool", POOL, "--pool-path", str(pool_dir),
               "--domain-type", "qemu")
    started = time.monotonic()
    first = stack.json("image", "publish", image_id, "--target", "libvirt", timeout_s=600)
    took_s = time.monotonic() - started
    assert first["status"] == "Published" and first["bytes_done"] == first["bytes_total"] > 0
    volume = pool_dir / first["remote"]["volumes"][0]
    # the volume is the image's disk byte for byte (and stayed sparse)
    assert subprocess.run(["cmp", disk0["path"], str(volume)], check=False).returncode == 0
    assert volume.stat().st_blocks * 512 < disk0["size_bytes"]
    before = volume.stat().st_mtime_ns
    again = stack.json("image", "publish", image_id, "--target", "libvirt", timeout_s=600)
    assert again["status"] == "Published" and volume.stat().st_mtime_ns == before  # found
    domain_xml = libvirt_host.virsh("dumpxml", first["remote"]["domain"])
    assert "bus='virtio'" in domain_xml and "<vcpu placement='static'>1</vcpu>" in domain_xml
    assert f"<title>{image['name']}</title>" in domain_xml
    launched = stack.json("image", "launch", image_id, timeout_s=600)
    assert launched["state"] == "running" and launched["console_pty"].startswith("/dev/pts/")
    assert launched["addresses"] == []  # no network on this target: no DHCP lease
    log = libvirt_host.host_path(launched["console_log"])
    console = _wait_for_line(log, migrated["marker"], BOOT_TIMEOUT_S)
    print(f"libvirt publish {took_s:.1f} s for {first['bytes_total']} bytes; console: "
          f"{console.strip().splitlines()[-1]}")
    reverted = stack.json("image", "launch", "--revert", image_id)
    assert reverted["target"] == "libvirt"
    assert first["remote"]["domain"] not in libvirt_host.virsh("list", "--all", "--name")
    assert not volume.exists()
    assert stack.json("image", "publications", image_id)["publications"] == []


def test_libvirt_boots_a_migrated_debian_to_login(stack: LocalStack,
                                                  libvirt_host: LibvirtHost) -> None:
    """A debootstrapped Debian (no virtio drivers in its initramfs: SATA) migrated, launched."""
    disk = corpus_image("ext4-mbr-novirtio", stack.root / "debian.raw")
    # its fstab names /dev/sda1 and it has no virtio drivers: the checks fail, SATA boots it
    stack.json("region", "create", "kvm-sata", "--accept-failed-checks", "--image-store",
               str(stack.root / "server" / "sata-images"))
    stack.json("region", "publish-target", "set", "kvm-sata", "--target", "libvirt", "--uri",
               libvirt_host.uri, "--pool", "rehost-sata", "--pool-path",
               str(stack.root / "sata-pool"), "--domain-type", "qemu", "--disk-bus", "sata")
    source_id = stack.import_source(stack.root / "debian-agent", system=disk, name="debian")
    stack.start_agent(stack.root / "debian-agent")
    job = stack.json("job", "create", "--source", source_id, "--mode", "immediate",
                     "--region", "kvm-sata", "--image-name", "debian-login")
    doc = stack.wait_job(str(job["job_id"]), timeout_s=JOB_TIMEOUT_S * 2)
    events = [(e["code"], e.get("message")) for e in stack.json(
        "job", "logs", str(job["job_id"]))["events"]]
    assert doc["status"] == "Finished", "\n".join(f"{c}: {m}" for c, m in events[-6:])
    started = time.monotonic()
    launched = stack.json("image", "launch", str(doc["image_id"]), "--memory-mib", "512",
                          timeout_s=600)
    assert "bus='sata'" in libvirt_host.virsh("dumpxml", launched["domain"])
    console = _wait_for_line(libvirt_host.host_path(launched["console_log"]), "login:",
                             LOGIN_TIMEOUT_S)
    print(f"debian launched to login: in {time.monotonic() - started:.0f} s: "
          f"{[x for x in console.splitlines() if 'login:' in x][-1].strip()}")
    stack.json("image", "launch", "--revert", str(doc["image_id"]))
    assert launched["domain"] not in libvirt_host.virsh("list", "--all", "--name")


def test_glance_publish_reads_back_byte_identical(stack: LocalStack, migrated: dict[str, Any],
                                                  glance: str) -> None:
    image = migrated["image"]
    image_id = image["image_id"]
    stack.json("region", "publish-target", "set", "local", "--target", "glance", "--endpoint",
               glance)
    done = stack.json("image", "publish", image_id, "--target", "glance", timeout_s=600)
    assert done["status"] == "Published", done
    entry = done["remote"]["images"]["0"]
    assert entry["reused"] is False and entry["disk_format"] == "qcow2"
    doc = httpx.get(f"{glance}/v2/images/{entry['id']}", timeout=30).json()
    assert doc["hw_disk_bus"] == "virtio" and doc["rehost_image_id"] == image_id
    assert doc["container_format"] == "bare" and "hw_firmware_type" not in doc  # BIOS
    uploaded = Path(image["location"]["path"]) / "exports" / "disk-0.qcow2"
    back = stack.root / "glance-back.qcow2"
    url = f"{glance}/v2/images/{entry['id']}/file"
    with httpx.stream("GET", url, timeout=120) as r, back.open("wb") as f:
        for block in r.iter_bytes():
            f.write(block)
    assert _sha512(back) == _sha512(uploaded) == doc["os_hash_value"] == entry["os_hash_value"]
    same = subprocess.run(["qemu-img", "compare", "-q", str(back),
                           image["location"]["disks"][0]["path"]], check=False)
    assert same.returncode == 0  # the guest sees the image's disk
    again = stack.json("image", "publish", image_id, "--target", "glance", timeout_s=600)
    assert again["remote"]["images"]["0"] == {**entry, "reused": True}
    tagged = httpx.get(f"{glance}/v2/images", params={"tag": f"rehost:{image_id}:disk-0"},
                       timeout=30).json()["images"]
    assert [i["id"] for i in tagged] == [entry["id"]]
    listed = json.loads(stack.run("image", "publications", image_id, "-o", "json").stdout)
    assert [p["target"] for p in listed["publications"]] == ["glance"]
