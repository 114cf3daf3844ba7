"""Inventory JSON: exactly the documented shape, and a lossless round trip."""

from __future__ import annotations

import json

import pytest

from rehost.agent.inventory import (
    DiskInfo,
    InventoryError,
    PartitionInfo,
    SourceInventory,
)
from rehost.agent.sysinfo import SystemInfo, collect

DOC_KEYS = {"hostname", "os_name", "os_version", "kernel", "arch", "boot_mode",
            "agent_version", "disks", "system"}
DISK_KEYS = {"index", "path", "size_bytes", "used_bytes", "min_size_bytes", "shrink_note",
             "partition_table", "partitions"}
PART_KEYS = {"number", "start_bytes", "size_bytes", "type", "fs", "uuid", "label",
             "used_bytes", "mountpoint"}


def make_inventory() -> SourceInventory:
    part = PartitionInfo(number=1, start_bytes=1 << 20, size_bytes=10 << 30,
                         type="0FC63DAF-8483-4772-8E79-3D69D8477DE4", fs="ext4",
                         uuid="5ba801a5-adee-4bf8-8209-30195d925840", label="根",
                         used_bytes=3 << 30, mountpoint="/")
    disk = DiskInfo(index=0, path="/dev/vda", size_bytes=20 << 30, used_bytes=3 << 30,
                    min_size_bytes=4 << 30, shrink_note="", partition_table="gpt",
                    partitions=(part,))
    data = DiskInfo(index=1, path="/dev/vdb", size_bytes=1 << 30, used_bytes=0,
                    min_size_bytes=1 << 30, shrink_note="last partition is xfs; rehost cannot "
                    "shrink it", partition_table="none", partitions=())
    return SourceInventory(hostname="web-1", os_name="Debian GNU/Linux", os_version="12",
                           kernel="6.1.0-18-amd64", arch="x86_64", boot_mode="UEFI",
                           agent_version="0.1.0", disks=(disk, data),
                           system=SystemInfo(2, 4 << 30, 1 << 30, [0.5, 0.25, 0.0],
                                             ["192.0.2.7", "2001:db8::7"]))


def test_json_has_exactly_the_documented_keys() -> None:
    doc = json.loads(make_inventory().to_json())
    assert set(doc) == DOC_KEYS
    assert set(doc["disks"][0]) == DISK_KEYS
    assert set(doc["disks"][0]["partitions"][0]) == PART_KEYS
    assert doc["boot_mode"] == "UEFI" and doc["disks"][0]["partition_table"] == "gpt"


def test_round_trip_is_lossless() -> None:
    inv = make_inventory()
    assert SourceInventory.from_json(inv.to_json()) == inv
    assert SourceInventory.from_dict(inv.to_dict()) == inv
    assert inv.to_dict() == json.loads(inv.to_json())
    assert inv.system_disk is not None and inv.system_disk.path == "/dev/vda"
    assert [d.index for d in inv.data_disks] == [1]


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(boot_mode="EFI"),
    lambda d: d.pop("hostname"),
    lambda d: d["disks"][0].update(size_bytes=-1),
    lambda d: d["disks"][0].update(size_bytes=True),
    lambda d: d["disks"][0].update(partition_table="apm"),
    lambda d: d["disks"][0]["partitions"][0].update(fs=None),
    lambda d: d.update(disks={}),
])
def test_malformed_documents_are_rejected(mutate: object) -> None:
    doc = make_inventory().to_dict()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(InventoryError):
        SourceInventory.from_dict(doc)


def test_not_json_is_rejected() -> None:
    with pytest.raises(InventoryError):
        SourceInventory.from_json("{nope")


def test_system_info_of_this_machine() -> None:
    info = collect()
    assert info.cpu_cores >= 1 and info.memory_bytes > info.memory_available_bytes > 0
    assert len(info.load_average) == 3
    assert all("." in ip or ":" in ip for ip in info.ip_addresses)
    assert SystemInfo.from_dict(info._asdict()) == info
