"""Publish targets are validated with bilingual errors; the domain XML and Glance body say what
the image needs (virtio or SATA, BIOS or UEFI, CPU and memory)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from rehost.domain.errors import InvalidParameter
from rehost.domain.publish import (
    GlanceTarget,
    LibvirtTarget,
    MachineSize,
    machine_size,
    os_distro,
    parse_target,
    target_doc,
)
from rehost.storage import libvirt_domain as xml
from rehost.storage.glance_target import GlancePublisher
from rehost.storage.publish_ports import PublishDisk, PublishOrder


@pytest.mark.parametrize(("kind", "doc", "says"), [
    ("libvirt", {"pool": "p"}, "needs `uri`"),
    ("libvirt", {"uri": "qemu:///system", "pool": "bad pool"}, "letters, digits"),
    ("libvirt", {"uri": "qemu:///system", "pool": "p", "pool_path": "rel"}, "absolute"),
    ("libvirt", {"uri": "qemu:///system", "pool": "p", "disk_bus": "ide"}, "virtio or sata"),
    ("libvirt", {"uri": "qemu:///system", "pool": "p", "domain_type": "xen"}, "kvm, qemu"),
    ("libvirt", {"uri": "qemu:///system", "pool": "p", "start": "yes"}, "unknown libvirt"),
    ("libvirt", {"uri": 5, "pool": "p"}, "must be strings"),
    ("glance", {}, "exactly one of"),
    ("glance", {"endpoint": "http://x:9292", "cloud": "c"}, "exactly one of"),
    ("glance", {"endpoint": "ftp://x"}, "http(s) URL"),
    ("glance", {"endpoint": "http://x", "disk_format": "vmdk"}, "raw or qcow2"),
    ("s3", {}, "libvirt, glance"),
])
def test_bad_targets_are_refused_in_both_languages(kind: str, doc: dict[str, object],
                                                   says: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_target(kind, doc)
    assert says in caught.value.message and caught.value.message_zh
    assert caught.value.message_zh != caught.value.message


def test_a_target_round_trips_through_its_document() -> None:
    target = parse_target("libvirt", {"uri": "qemu:///system", "pool": "default"})
    assert target == LibvirtTarget("qemu:///system", "default")
    assert parse_target("libvirt", target_doc(target)) == target
    assert parse_target("glance", {"cloud": "prod"}) == GlanceTarget(cloud="prod")


def test_machine_size_from_request_inventory_or_defaults() -> None:
    inv = {"system": {"cpu_cores": 4, "memory_bytes": 8 << 30}}
    assert machine_size(inv, vcpus=None, memory_mib=None) == MachineSize(4, 8192, "inventory")
    assert machine_size(inv, vcpus=2, memory_mib=None) == MachineSize(2, 1024, "request")
    assert machine_size({}, vcpus=None, memory_mib=None) == MachineSize(1, 1024, "default")
    with pytest.raises(InvalidParameter, match="vcpus must be 1-256"):
        machine_size({}, vcpus=0, memory_mib=None)
    assert os_distro("Debian GNU/Linux") == "debian" and os_distro("Plan 9") == ""


def _spec(**kwargs: object) -> xml.DomainSpec:
    base: dict[str, object] = dict(
        name="rehost-m-1", title="web", description="d", domain_type="qemu",
        boot_mode="BIOS", size=MachineSize(2, 2048, "request"),
        disks=(xml.DomainDisk("p", "m-1-disk-0.raw", "raw"),
               xml.DomainDisk("p", "m-1-disk-1.qcow2", "qcow2")),
        console_log="/var/log/libvirt/qemu/rehost-m-1-console.log")
    return xml.DomainSpec(**{**base, **kwargs})  # type: ignore[arg-type]


def test_domain_xml_virtio_bios_cpu_memory_and_serial_log() -> None:
    root = ET.fromstring(xml.domain_xml(_spec()))
    assert root.get("type") == "qemu" and root.findtext("vcpu") == "2"
    assert root.find("memory").text == "2048" and root.find("memory").get("unit") == "MiB"
    targets = [(t.get("dev"), t.get("bus")) for t in root.iter("target") if t.get("bus")]
    assert targets == [("vda", "virtio"), ("vdb", "virtio")]
    assert [d.get("type") for d in root.iter("driver")] == ["raw", "qcow2"]
    assert root.find("os/loader") is None and root.find("cpu").get("mode") == "maximum"
    assert root.find("devices/serial/log").get("file").endswith("rehost-m-1-console.log")
    assert root.find("devices/interface") is None  # no network configured: no NIC


def test_domain_xml_uefi_sata_network_and_uuid() -> None:
    root = ET.fromstring(xml.domain_xml(_spec(boot_mode="UEFI", disk_bus="sata",
                                              network="default", uuid="u-1",
                                              domain_type="kvm")))
    loader = root.find("os/loader")
    assert loader is not None and "OVMF_CODE" in (loader.text or "")
    assert "OVMF_VARS" in root.find("os/nvram").get("template")
    assert [t.get("dev") for t in root.iter("target") if t.get("bus")] == ["sda", "sdb"]
    assert root.find("devices/interface/source").get("network") == "default"
    assert root.findtext("uuid") == "u-1" and root.find("cpu").get("mode") == "host-passthrough"


def test_glance_body_marks_uefi_virtio_and_os() -> None:
    order = PublishOrder(image_id="m-1", name="web", source_id="s-1", boot_mode="UEFI",
                         disks=(), size=MachineSize(1, 2048, "inventory"), os_distro="debian",
                         previous={})
    publisher = GlancePublisher(GlanceTarget(endpoint="http://127.0.0.1:1"))
    system = publisher._body(order, PublishDisk(0, Path("d0"), "qcow2", 3 << 30))
    assert system["hw_firmware_type"] == "uefi" and system["hw_disk_bus"] == "virtio"
    assert system["os_distro"] == "debian" and system["min_disk"] == 3
    assert system["min_ram"] == 2048 and system["tags"] == ["rehost:m-1:disk-0"]
    data = publisher._body(order, PublishDisk(1, Path("d1"), "qcow2", 1))
    assert data["name"] == "web-disk-1" and "hw_firmware_type" not in data
