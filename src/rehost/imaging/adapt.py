"""OS adaptation of a migrated Linux guest so it boots on KVM (virtio disks, NIC, serial).

Runs on the transit side after the sync, before publishing, on the working copy of the disks:
    virtio drivers into the initramfs of every kernel (the guest's update-initramfs/dracut),
    fstab and boot loader root=/resume= by UUID, console=ttyS0 added, MAC-bound network
    configuration removed, hypervisor tools disabled, guest agents reported.
Every change is a Change, sent to `log` as it happens and kept in the AdaptReport.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rehost.imaging.adapt_steps import STEPS, Change
from rehost.imaging.guestfish import GuestShell, open_guest

__all__ = ["AdaptReport", "Change", "adapt_guest_shell", "adapt_linux_guest"]
ChangeLog = Callable[[Change], None]


@dataclass(frozen=True, slots=True)
class AdaptReport:
    """What rehost changed in the guest ("what rehost changed in your guest")."""

    changes: tuple[Change, ...]
    duration_s: float
    notes: tuple[Change, ...] = field(default=())

    def lines(self) -> tuple[str, ...]:
        """One manifest line per change and per note."""
        return tuple(f"adapt: {c.code}: {c.message_en}" for c in (*self.changes, *self.notes))


def adapt_linux_guest(disk_paths: Sequence[Path], *, log: ChangeLog) -> AdaptReport:
    """Adapt the guest on these disks (system disk first) in place; they must be a copy."""
    started = time.monotonic()
    with open_guest(disk_paths) as guest:
        changes, notes = adapt_guest_shell(guest, log=log)
    return AdaptReport(tuple(changes), round(time.monotonic() - started, 2), tuple(notes))


def adapt_guest_shell(guest: GuestShell, *, log: ChangeLog) -> tuple[list[Change], list[Change]]:
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
    for step in STEPS:
        for item in step(guest):
            log(item)
            (changes if item.changed else notes).append(item)
    return changes, notes
