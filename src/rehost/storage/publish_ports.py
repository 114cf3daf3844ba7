"""The publisher port: what a publish target (libvirt, Glance) is given and answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rehost.domain.publish import MachineSize
from rehost.jsonvalue import JsonObject

# (bytes handled so far, what exists remotely so far): recorded so that a retry finds it
ProgressFn = Callable[[int, Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class PublishDisk:
    """One disk file to upload."""

    index: int
    path: Path
    format: str  # raw | qcow2: the file's format, also the remote one
    size_bytes: int  # virtual size


@dataclass(frozen=True, slots=True)
class PublishOrder:
    """An image to put into a target; `previous` is what an earlier attempt recorded."""

    image_id: str
    name: str
    source_id: str
    boot_mode: str  # BIOS | UEFI
    disks: tuple[PublishDisk, ...]
    size: MachineSize
    os_distro: str
    previous: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LaunchInfo:
    """A running test machine: where its console is and which addresses it got."""

    domain: str
    state: str
    console_log: str
    console_pty: str
    addresses: tuple[str, ...]


class Publisher(Protocol):
    """A publish target."""

    def publish(self, order: PublishOrder, *, progress: ProgressFn,
                start: bool) -> JsonObject:
        """Upload and register the image (reusing what `order.previous` finished)."""
        ...

    def revert(self, remote: Mapping[str, Any]) -> None:
        """Remove what `publish` made (no error for what is already gone)."""
        ...


def bytes_total(disks: tuple[PublishDisk, ...]) -> int:
    """Bytes a publication walks through: every disk file's length."""
    return sum(d.path.stat().st_size for d in disks)
