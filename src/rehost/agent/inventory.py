"""What the agent reports about its server: OS, boot mode, disks and partitions (JSON)."""

import json
from typing import TYPE_CHECKING, Any, NamedTuple, cast

if TYPE_CHECKING:  # typing.Literal is Python 3.8+; the agent runs on 3.6
    from typing import Literal  # novermin: type checking only

    BootMode = Literal["BIOS", "UEFI"]
    TableKind = Literal["mbr", "gpt", "none"]
else:
    BootMode = TableKind = str
SYSTEM_DISK_INDEX = 0


class InventoryError(ValueError):
    """An inventory document is malformed."""


class PartitionInfo(NamedTuple):
    """One partition; `fs` uses lsblk's names ("ext4", "xfs", "vfat", "swap"...) or ""."""

    number: int
    start_bytes: int
    size_bytes: int
    type: str
    fs: str
    uuid: str
    label: str
    used_bytes: int
    mountpoint: str

    @classmethod
    def from_dict(cls, data: "dict[str, Any]") -> "PartitionInfo":
        """Build from a decoded JSON object."""
        return cls(
            number=_int(data, "number"), start_bytes=_int(data, "start_bytes"),
            size_bytes=_int(data, "size_bytes"), type=_str(data, "type"), fs=_str(data, "fs"),
            uuid=_str(data, "uuid"), label=_str(data, "label"),
            used_bytes=_int(data, "used_bytes"), mountpoint=_str(data, "mountpoint"),
        )


class DiskInfo(NamedTuple):
    """One disk: index 0 is the system disk, 1..16 data disks."""

    index: int  # type: ignore[assignment]  # a field shadows tuple.index
    path: str
    size_bytes: int
    used_bytes: int
    min_size_bytes: int
    shrink_note: str
    partition_table: "TableKind"
    partitions: "tuple[PartitionInfo, ...]"

    @classmethod
    def from_dict(cls, data: "dict[str, Any]") -> "DiskInfo":
        """Build from a decoded JSON object."""
        table = _str(data, "partition_table")
        if table not in ("mbr", "gpt", "none"):
            raise InventoryError(f"partition_table must be mbr, gpt or none, not {table!r}")
        parts = data.get("partitions")
        if not isinstance(parts, list):
            raise InventoryError("partitions must be a list")
        return cls(
            index=_int(data, "index"), path=_str(data, "path"),
            size_bytes=_int(data, "size_bytes"), used_bytes=_int(data, "used_bytes"),
            min_size_bytes=_int(data, "min_size_bytes"), shrink_note=_str(data, "shrink_note"),
            partition_table=cast("TableKind", table),
            partitions=tuple(PartitionInfo.from_dict(_obj(p)) for p in parts),
        )


class SourceInventory(NamedTuple):
    """Everything the agent reports at import and heartbeat."""

    hostname: str
    os_name: str
    os_version: str
    kernel: str
    arch: str
    boot_mode: "BootMode"
    agent_version: str
    disks: "tuple[DiskInfo, ...]"
    cpu_count: int = 0  # 0 = unknown (an image file, not a running server)
    memory_bytes: int = 0

    @property
    def system_disk(self) -> "DiskInfo | None":
        """The disk with index 0."""
        return next((d for d in self.disks if d.index == SYSTEM_DISK_INDEX), None)

    @property
    def data_disks(self) -> "tuple[DiskInfo, ...]":
        """Disks with index 1..16."""
        return tuple(d for d in self.disks if d.index != SYSTEM_DISK_INDEX)

    def to_dict(self) -> "dict[str, Any]":
        """A JSON-ready dict (lists, not tuples) with exactly the documented keys."""
        data: dict[str, Any] = json.loads(json.dumps(_plain(self)))
        return data

    def to_json(self) -> str:
        """Serialize to a JSON document."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: "dict[str, Any]") -> "SourceInventory":
        """Build from a decoded JSON object; raises InventoryError when malformed."""
        mode = _str(data, "boot_mode")
        if mode not in ("BIOS", "UEFI"):
            raise InventoryError(f"boot_mode must be BIOS or UEFI, not {mode!r}")
        disks = data.get("disks")
        if not isinstance(disks, list):
            raise InventoryError("disks must be a list")
        return cls(
            hostname=_str(data, "hostname"), os_name=_str(data, "os_name"),
            os_version=_str(data, "os_version"), kernel=_str(data, "kernel"),
            arch=_str(data, "arch"), boot_mode=cast("BootMode", mode),
            agent_version=_str(data, "agent_version"),
            disks=tuple(DiskInfo.from_dict(_obj(d)) for d in disks),
            cpu_count=_int({"cpu_count": data.get("cpu_count", 0)}, "cpu_count"),
            memory_bytes=_int({"memory_bytes": data.get("memory_bytes", 0)}, "memory_bytes"),
        )

    @classmethod
    def from_json(cls, text: "str | bytes") -> "SourceInventory":
        """Parse a JSON document."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InventoryError(f"inventory is not JSON: {exc}") from exc
        return cls.from_dict(_obj(data))


def _plain(value: object) -> object:
    """NamedTuples become dicts and tuples lists, recursively (a NamedTuple `asdict`)."""
    fields = getattr(value, "_asdict", None)
    if fields is not None:
        return {k: _plain(v) for k, v in fields().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _obj(value: object) -> "dict[str, Any]":
    if not isinstance(value, dict):
        raise InventoryError(f"expected a JSON object, got {type(value).__name__}")
    return cast("dict[str, Any]", value)


def _int(data: "dict[str, Any]", key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InventoryError(f"{key} must be a non-negative integer, got {value!r}")
    return value


def _str(data: "dict[str, Any]", key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InventoryError(f"{key} must be a string, got {value!r}")
    return value
