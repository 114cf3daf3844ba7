"""OS adaptation of a migrated Linux guest so it boots on KVM (virtio disks, NIC, serial).

Runs on the transit side after the sync, before publishing, on the working copy of the disks:
    virtio drivers into the initramfs of every kernel (the guest's update-initramfs/dracut),
    fstab and boot loader root=/resume= by UUID, console=ttyS0 added, MAC-bound network
    configuration removed, hypervisor tools disabled, guest agents reported.
Every change is a Change, sent to `log` as it happens and kept in the AdaptReport.
AdaptOptions (region settings) choose the engine (rehost's steps over one libguestfs appliance,
or virt-v2v-in-place) and whether the source's static network configuration is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rehost.imaging.adapt_initramfs import add_virtio_drivers
from rehost.imaging.adapt_steps import (
    Change,
    boot_config,
    fstab_by_uuid,
    guest_agents,
    hypervisor_tools,
    network,
    network_kept,
)
from rehost.imaging.adapt_v2v import run_virt_v2v
from rehost.imaging.errors import ImagingError
from rehost.imaging.extguest import ExtGuestShell, OfflineUnsupported, open_ext_guest
from rehost.imaging.guestfish import GuestfishError, GuestShell, open_guest

__all__ = ["AdaptOptions", "AdaptReport", "Change", "adapt_guest_shell",
           "adapt_linux_guest"]
ChangeLog = Callable[[Change], None]
ENGINES = ("rehost", "virt-v2v")  # = rehost.domain.models.ADAPT_ENGINES
Step = Callable[[GuestShell], list[Change]]


@dataclass(frozen=True, slots=True)
class AdaptOptions:
    """How a guest is adapted: the engine, and whether its static network setup is kept."""

    engine: str = "rehost"  # domain.models.ADAPT_ENGINES, validated with the region setting
    keep_static_network: bool = False

    def steps(self) -> tuple[Step, ...]:
        """rehost's steps in order (virt-v2v did the initramfs); the network step only names
        what it keeps when asked."""
        net = network_kept if self.keep_static_network else network
        initramfs = () if self.engine == "virt-v2v" else (add_virtio_drivers,)
        return (fstab_by_uuid, *initramfs, boot_config, net, hypervisor_tools, guest_agents)


@dataclass(frozen=True, slots=True)
class AdaptReport:
    """What rehost changed in the guest ("what rehost changed in your guest")."""

    changes: tuple[Change, ...]
    duration_s: float
    notes: tuple[Change, ...] = field(default=())

    def lines(self) -> tuple[str, ...]:
        """One manifest line per change and per note."""
        return tuple(f"adapt: {c.code}: {c.message_en}" for c in (*self.changes, *self.notes))


def adapt_linux_guest(disk_paths: Sequence[Path], *, log: ChangeLog,
                      options: AdaptOptions = AdaptOptions()) -> AdaptReport:
    """Adapt the guest on these disks (system disk first) in place; they must be a copy."""
    started = time.monotonic()
    if options.engine not in ENGINES:
        raise GuestfishError(f"unknown adaptation engine {options.engine!r}: use rehost or "
                             "virt-v2v", f"无法识别的适配引擎 {options.engine!r}：请使用 rehost 或 "
                             "virt-v2v")
    changes, notes = ([], []) if options.engine != "virt-v2v" else run_virt_v2v(disk_paths,
                                                                                log=log)
    offline = _offline_guest(disk_paths) if options.engine == "rehost" else None
    if offline is not None:
        done: list[Change] = []

        def record(change: Change) -> None:
            done.append(change)
            log(change)

        try:
            adapt_guest_shell(offline, log=record, options=options)
        except OfflineUnsupported as why:
            changes += [c for c in done if c.changed]  # already made: the appliance finds them
            notes += [c for c in done if not c.changed]
            note = Change("Adapt.Offline", f"adapting on this host stopped ({why.message_en}): "
                          "continuing in the libguestfs appliance",
                          f"在本机上的适配已停止（{why.message_zh}），改在 libguestfs 设备中继续",
                          changed=False)
        else:
            note = Change("Adapt.Offline", "every filesystem adapted is ext2/3/4 on a partition: "
                          "adapted on this host with debugfs (no appliance VM)",
                          "所适配的文件系统均为分区上的 ext2/3/4：已在本机用 debugfs 适配"
                          "（未启动设备虚拟机）", changed=False)
            log(note)
            return AdaptReport(tuple(changes + [c for c in done if c.changed]),
                               round(time.monotonic() - started, 2),
                               tuple([*notes, *(c for c in done if not c.changed), note]))
        log(note)
        notes.append(note)
    with open_guest(disk_paths) as guest:
        ours, our_notes = adapt_guest_shell(guest, log=log, options=options)
    changes, notes = changes + ours, notes + our_notes
    return AdaptReport(tuple(changes), round(time.monotonic() - started, 2), tuple(notes))


def _offline_guest(disk_paths: Sequence[Path]) -> ExtGuestShell | None:
    """The host-side ext shell when the layout allows it (a layout it cannot read: None)."""
    try:
        return open_ext_guest(disk_paths)
    except ImagingError:
        return None


def adapt_guest_shell(guest: GuestShell, *, log: ChangeLog,
                      options: AdaptOptions = AdaptOptions()) -> tuple[list[Change], list[Change]]:
    """Every step over an opened guest: (changes made, notes that changed nothing)."""
    changes: list[Change] = []
    notes: list[Change] = []
    kind = guest.os_type()
    if kind != "linux":
        note = Change("Adapt.NotAdapted",
                      f"{kind} guest: not adapted (rehost adapts Linux only; the disks are "
                      "copied block for block)",
                      f"{kind} 客户机：未适配（rehost 仅适配 Linux，磁盘按块原样复制）",
                      changed=False)
        log(note)
        return changes, [note]
    for step in options.steps():
        for item in step(guest):
            log(item)
            (changes if item.changed else notes).append(item)
    return changes, notes
