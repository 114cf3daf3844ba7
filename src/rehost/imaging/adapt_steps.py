"""The adaptation steps over a GuestShell; each returns the Changes it made (or notes)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from rehost.imaging.guestedit import (
    appliance_device,
    rewrite_boot_config,
    rewrite_fstab,
    without_mac_lines,
)
from rehost.imaging.guestfish import GuestShell

VIRTIO_DRIVERS = ("virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net")
DRACUT_CONF = "/etc/dracut.conf.d/50-rehost-virtio.conf"
INITRAMFS_TOOLS_MODULES = "/etc/initramfs-tools/modules"
BOOT_CONFIGS = ("/etc/default/grub", "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg",
                "/boot/extlinux/extlinux.conf", "/boot/extlinux.conf", "/extlinux.conf",
                "/boot/syslinux/syslinux.cfg", "/syslinux.cfg")
PERSISTENT_NET = ("/etc/udev/rules.d/70-persistent-net.rules",
                  "/etc/udev/rules.d/75-persistent-net-generator.rules")
MAC_CONFIG_DIRS = ("/etc/sysconfig/network-scripts", "/etc/sysconfig/network",
                   "/etc/NetworkManager/system-connections")
HYPERVISOR_UNITS = ("open-vm-tools.service", "vmtoolsd.service", "vgauth.service",
                    "hv-kvp-daemon.service", "hv-vss-daemon.service", "hv-fcopy-daemon.service",
                    "hypervkvpd.service", "hypervvssd.service", "hypervfcopyd.service",
                    "xe-linux-distribution.service", "xe-daemon.service")
BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
AGENTS = (("cloud-init", "cloud-init"), ("qemu-ga", "qemu-guest-agent"))


@dataclass(frozen=True, slots=True)
class Change:
    """One thing rehost did (changed=True) or found and left alone (a note)."""

    code: str
    message_en: str
    message_zh: str
    path: str = ""
    changed: bool = True


def _tools(guest: GuestShell, names: tuple[str, ...]) -> set[str]:
    """Which of the named programs the guest has on its PATH."""
    # [ -x ] over the usual directories: busybox/dash `command -v` answers differ
    script = (f"for n in {' '.join(names)}; do for d in {' '.join(BIN_DIRS)}; do "
              'if [ -x "$d/$n" ]; then echo "$n"; break; fi; done; done; true')
    return set(guest.sh(script).split())


def _kernels(guest: GuestShell) -> list[str]:
    """Installed kernel versions (directories under /lib/modules)."""
    return sorted(set(guest.ls("/lib/modules")) | set(guest.ls("/usr/lib/modules")))


def add_virtio_drivers(guest: GuestShell) -> list[Change]:
    """virtio drivers into every kernel's initramfs, rebuilt by the guest's own tool."""
    kernels = _kernels(guest)
    tools = _tools(guest, ("update-initramfs", "dracut"))
    drivers = " ".join(VIRTIO_DRIVERS)
    if "update-initramfs" in tools:
        current = guest.read(INITRAMFS_TOOLS_MODULES) or ""
        missing = [d for d in VIRTIO_DRIVERS if d not in current.split()]
        if missing:
            guest.write(INITRAMFS_TOOLS_MODULES, current.rstrip("\n") + "\n# added by rehost "
                        "(virtio for KVM)\n" + "\n".join(missing) + "\n")
        guest.sh("update-initramfs -u -k all")
        tool, where = "update-initramfs -u -k all", INITRAMFS_TOOLS_MODULES
    elif "dracut" in tools:
        guest.write(DRACUT_CONF,
                    f'# added by rehost (virtio for KVM)\nadd_drivers+=" {drivers} "\n')
        for version in kernels:
            guest.sh(f"dracut -f --kver {shlex.quote(version)}")
        tool, where = "dracut -f --kver <each kernel>", DRACUT_CONF
    else:
        return [Change("Adapt.Initramfs", "the guest has neither update-initramfs nor dracut: "
                       "its initramfs was not rebuilt", "客户机中没有 update-initramfs 或 dracut，"
                       "未重建 initramfs", changed=False)]
    shown = ", ".join(kernels) or "no kernel found"
    return [Change("Adapt.Initramfs", f"added {drivers} to {where}; {tool} rebuilt the "
                   f"initramfs of {shown}", f"已将 {drivers} 加入 {where}；{tool} 重建了内核 "
                   f"{shown} 的 initramfs", where)]


def _uuid_of(guest: GuestShell) -> Callable[[str], str | None]:
    """Guest device name -> filesystem UUID, looked up on the appliance's device."""

    def lookup(device: str) -> str | None:
        seen = appliance_device(device)
        return guest.uuid(seen) if seen is not None else None

    return lookup


def fstab_by_uuid(guest: GuestShell) -> list[Change]:
    """/etc/fstab entries naming kernel devices rewritten to UUID=."""
    text = guest.read("/etc/fstab")
    if text is None:
        return []
    new, done = rewrite_fstab(text, _uuid_of(guest))
    if not done:
        return []
    guest.write("/etc/fstab", new)
    return [Change("Adapt.Fstab", f"/etc/fstab: {d}", f"/etc/fstab：{d}", "/etc/fstab")
            for d in done]


def boot_config(guest: GuestShell) -> list[Change]:
    """root=/resume= by UUID and console=ttyS0 in GRUB/extlinux; grub.cfg regenerated."""
    changes = _edit_boot_files(guest, BOOT_CONFIGS[:1])
    if changes:
        regen = _tools(guest, ("update-grub", "grub2-mkconfig", "grub-mkconfig"))
        command = ("update-grub" if "update-grub" in regen else
                   "grub2-mkconfig -o /boot/grub2/grub.cfg" if "grub2-mkconfig" in regen else
                   "grub-mkconfig -o /boot/grub/grub.cfg" if "grub-mkconfig" in regen else "")
        if command:
            done = guest.sh(f"out=$({command} 2>&1) && echo ok || echo failed").strip()
            if done == "ok":
                changes.append(Change("Adapt.Grub", f"GRUB configuration regenerated ({command})",
                                      f"已重新生成 GRUB 配置（{command}）", "/boot"))
            else:
                changes.append(Change("Adapt.Grub", f"{command} failed in the guest; grub.cfg "
                                      "edited in place instead", f"客户机中 {command} 执行失败，"
                                      "已直接修改 grub.cfg", "/boot", changed=False))
    return changes + _edit_boot_files(guest, BOOT_CONFIGS[1:])


def _edit_boot_files(guest: GuestShell, paths: tuple[str, ...]) -> list[Change]:
    """Rewrite kernel lines in each boot configuration file that exists."""
    changes = []
    for path in paths:
        text = guest.read(path)
        if text is None:
            continue
        new, done = rewrite_boot_config(text, _uuid_of(guest))
        if new != text:
            guest.write(path, new)
            changes += [Change("Adapt.Boot", f"{path}: {d}", f"{path}：{d}", path)
                        for d in dict.fromkeys(done)]
    return changes


def network(guest: GuestShell) -> list[Change]:
    """Persistent-net udev rules removed; MAC bindings dropped from interface configuration."""
    changes = []
    for path in PERSISTENT_NET:
        if guest.read(path) is not None:
            guest.remove(path)
            changes.append(Change("Adapt.Network", f"removed {path} (binds NIC names to MACs)",
                                  f"已删除 {path}（按 MAC 绑定网卡名）", path))
    for directory in MAC_CONFIG_DIRS:
        for name in guest.ls(directory):
            path = f"{directory}/{name}"
            text = guest.read(path) if name.startswith("ifcfg-") or "system-connections" in \
                directory else None
            if text is None:
                continue
            new, removed = without_mac_lines(text)
            if removed:
                guest.write(path, new)
                changes.append(Change("Adapt.Network", f"{path}: MAC binding removed",
                                      f"{path}：已移除 MAC 绑定", path))
    return changes


def hypervisor_tools(guest: GuestShell) -> list[Change]:
    """VMware/Hyper-V/Xen guest services disabled (they fail or spin on KVM)."""
    changes = []
    for unit in HYPERVISOR_UNITS:
        # -L: the links point at units that need not resolve inside the guest root
        if guest.sh(f'for f in /etc/systemd/system/*.wants/{unit}; do [ -L "$f" ] && '
                    'echo "$f"; done; true').strip():
            # systemctl works offline; without it (or if it fails) drop the wants links
            guest.sh(f"systemctl disable {unit} >/dev/null 2>&1 || "
                     f"rm -f /etc/systemd/system/*.wants/{unit}; true")
            changes.append(Change("Adapt.HypervisorTools", f"disabled {unit}",
                                  f"已禁用 {unit}", unit))
    return changes


def guest_agents(guest: GuestShell) -> list[Change]:
    """cloud-init and qemu-guest-agent presence, reported (nothing changed)."""
    found = _tools(guest, tuple(program for program, _ in AGENTS))
    return [Change("Adapt.Agents", f"{package} is {'present' if program in found else 'absent'}",
                   f"{package}{'已安装' if program in found else '未安装'}", changed=False)
            for program, package in AGENTS]


STEPS: tuple[Callable[[GuestShell], list[Change]], ...] = (
    fstab_by_uuid, add_virtio_drivers, boot_config, network, hypervisor_tools, guest_agents)
