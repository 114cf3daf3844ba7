"""Pure text edits rehost makes in a Linux guest: fstab and kernel command lines by UUID.

`uuid_of` maps a device the guest named (/dev/sda1, /dev/hda1, /dev/xvda1, /dev/nvme0n1p1) to
its filesystem UUID, or None when rehost cannot tell; such entries are left as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable

UuidOf = Callable[[str], "str | None"]
DEVICE_NAME = re.compile(r"^/dev/(?:(?:sd|hd|xvd|vd)[a-z]+\d*|nvme\d+n\d+(?:p\d+)?|cciss/\S+)$")
KERNEL_ARG_DEVICE = re.compile(r"\b(root|resume)=(/dev/[^\s\"']+)")
SERIAL_CONSOLE = "console=ttyS0,115200n8"
GRUB_CFG_LINUX = re.compile(r"^(\s*(?:linux|linux16|linuxefi)\s+\S+)(.*)$")
EXTLINUX_APPEND = re.compile(r"^(\s*(?:APPEND|append)\s+)(.*)$")
GRUB_DEFAULT_CMDLINE = re.compile(r'^(GRUB_CMDLINE_LINUX=)(["\']?)(.*?)\2\s*$')


def appliance_device(guest_device: str) -> str | None:
    """The device libguestfs shows for a guest device name: disks are added in guest order."""
    match = re.match(r"^/dev/(?:sd|hd|xvd|vd)([a-z])(\d*)$", guest_device)
    if match is not None:
        return f"/dev/sd{match.group(1)}{match.group(2)}"
    nvme = re.match(r"^/dev/nvme(\d+)n1(?:p(\d+))?$", guest_device)
    if nvme is not None and int(nvme.group(1)) < 26:
        return f"/dev/sd{chr(ord('a') + int(nvme.group(1)))}{nvme.group(2) or ''}"
    return None


def rewrite_fstab(text: str, uuid_of: UuidOf) -> tuple[str, list[str]]:
    """fstab with kernel device names replaced by UUID=; the replacements made."""
    out, changes = [], []
    for line in text.splitlines(keepends=True):
        fields = line.split()
        if fields and not fields[0].startswith("#") and DEVICE_NAME.match(fields[0]):
            uuid = uuid_of(fields[0])
            if uuid:
                line = line.replace(fields[0], f"UUID={uuid}", 1)
                mount = fields[1] if len(fields) > 1 else ""
                changes.append(f"{fields[0]} -> UUID={uuid} ({mount})")
        out.append(line)
    return "".join(out), changes


def rewrite_args(args: str, uuid_of: UuidOf) -> tuple[str, list[str]]:
    """Kernel arguments with root=/resume= devices by UUID and a serial console added."""
    changes: list[str] = []

    def by_uuid(match: re.Match[str]) -> str:
        uuid = uuid_of(match.group(2)) if DEVICE_NAME.match(match.group(2)) else None
        if uuid is None:
            return match.group(0)
        changes.append(f"{match.group(1)}={match.group(2)} -> {match.group(1)}=UUID={uuid}")
        return f"{match.group(1)}=UUID={uuid}"

    args = KERNEL_ARG_DEVICE.sub(by_uuid, args)
    if "console=ttyS0" not in args:
        # without any console= the kernel uses tty0: name it so the screen keeps the boot too
        extra = SERIAL_CONSOLE if "console=" in args else f"console=tty0 {SERIAL_CONSOLE}"
        args = f"{args.rstrip()} {extra}".lstrip()
        changes.append(f"added {extra}")
    return args, changes


def rewrite_boot_config(text: str, uuid_of: UuidOf) -> tuple[str, list[str]]:
    """grub.cfg, extlinux.conf or /etc/default/grub with every kernel line rewritten."""
    out: list[str] = []
    changes: list[str] = []
    for line in text.splitlines(keepends=True):
        body, newline = line.rstrip("\n"), "\n" if line.endswith("\n") else ""
        for pattern in (GRUB_CFG_LINUX, EXTLINUX_APPEND):
            match = pattern.match(body)
            if match is not None:
                args, done = rewrite_args(match.group(2).strip(), uuid_of)
                sep = "" if match.group(1).endswith((" ", "\t")) else " "
                body, changes = f"{match.group(1)}{sep}{args}", changes + done
                break
        default = GRUB_DEFAULT_CMDLINE.match(body)
        if default is not None:
            args, done = rewrite_args(default.group(3), uuid_of)
            body, changes = f'{default.group(1)}"{args}"', changes + done
        out.append(body + newline)
    return "".join(out), changes


def without_mac_lines(text: str) -> tuple[str, int]:
    """ifcfg/NetworkManager text without its MAC bindings (HWADDR=, mac-address=, MACADDR=)."""
    kept = [line for line in text.splitlines(keepends=True)
            if not re.match(r"^\s*(HWADDR|MACADDR|mac-address)\s*=", line)]
    return "".join(kept), len(text.splitlines()) - len(kept)
