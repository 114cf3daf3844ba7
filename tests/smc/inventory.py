"""Hand-built agent inventories (the architecture's JSON contract) for API-level tests."""

from __future__ import annotations

from typing import Any

GIB = 1024**3


def inventory(hostname: str = "web-01", *, system_gib: int = 10, system_used_gib: int = 2,
              data_disks: tuple[tuple[int, int], ...] = ((20, 1),)) -> dict[str, Any]:
    """A source with an ext4 system disk and mounted data disks of (size GiB, used GiB)."""
    disks = [_disk(0, "/dev/vda", system_gib, system_used_gib, "/")]
    for n, (size, used) in enumerate(data_disks, start=1):
        disks.append(_disk(n, f"/dev/vd{chr(ord('a') + n)}", size, used, f"/data{n}"))
    return {"hostname": hostname, "os_name": "Debian GNU/Linux", "os_version": "12",
            "kernel": "6.1.0-18-amd64", "arch": "x86_64", "boot_mode": "BIOS",
            "agent_version": "0.1.0", "disks": disks}


def _disk(index: int, path: str, size_gib: int, used_gib: int, mount: str) -> dict[str, Any]:
    size, used = size_gib * GIB, used_gib * GIB
    return {"index": index, "path": path, "size_bytes": size, "used_bytes": used,
            "min_size_bytes": size, "shrink_note": "", "partition_table": "mbr",
            "partitions": [{"number": 1, "start_bytes": 1024**2, "size_bytes": size - 1024**2,
                            "type": "83", "fs": "ext4", "uuid": f"uuid-{index}",
                            "label": "", "used_bytes": used, "mountpoint": mount}]}
