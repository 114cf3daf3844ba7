"""Hand-made agent inventories in the shape of docs/architecture.md."""

from __future__ import annotations

from typing import Any

GIB = 1024**3


def _partition(number: int, start: int, size: int, used: int, mount: str) -> dict[str, Any]:
    return {"number": number, "start_bytes": start, "size_bytes": size, "type": "linux",
            "fs": "ext4", "uuid": f"0000-{number:04d}", "label": "", "used_bytes": used,
            "mountpoint": mount}


def make_inventory(hostname: str, *, system_gib: int = 40, used_gib: float = 6.5,
                   data_disks: tuple[tuple[int, int, float], ...] = ((1, 100, 12.25),)
                   ) -> dict[str, Any]:
    """A Debian source with a GPT system disk and data disks given as (index, GiB, used GiB)."""
    used = int(used_gib * GIB)
    system = {
        "index": 0, "path": "/dev/vda", "size_bytes": system_gib * GIB, "used_bytes": used,
        "min_size_bytes": used + GIB // 2, "shrink_note": "", "partition_table": "gpt",
        "partitions": [
            _partition(1, 1024**2, 512 * 1024**2, 6 * 1024**2, "/boot/efi"),
            _partition(2, 513 * 1024**2, system_gib * GIB - 514 * 1024**2, used, "/"),
        ],
    }
    disks = [system]
    for index, size_gib, used_data in data_disks:
        data_used = int(used_data * GIB)
        disks.append({
            "index": index, "path": f"/dev/vd{chr(ord('a') + index)}",
            "size_bytes": size_gib * GIB, "used_bytes": data_used,
            "min_size_bytes": size_gib * GIB, "shrink_note": "", "partition_table": "none",
            "partitions": [_partition(1, 0, size_gib * GIB, data_used, f"/data{index}")],
        })
    return {"hostname": hostname, "os_name": "Debian GNU/Linux", "os_version": "12",
            "kernel": "6.1.0-18-amd64", "arch": "x86_64", "boot_mode": "UEFI",
            "agent_version": "0.1.0", "disks": disks}
