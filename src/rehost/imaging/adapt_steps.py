"""The adaptation steps over a GuestShell; each returns the Changes it made (or notes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rehost.imaging.guestedit import (
    appliance_device,
    rewrite_boot_config,
    rewrite_fstab,
    without_mac_lines,
)
from rehost.imaging.guestfish import GuestShell

GRUB_CFGS = ("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg")
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
AGENTS = (("cloud-init", "cloud-init"), ("qemu-ga", "qemu-guest-agent"))


@dataclass(frozen=True, slots=True)
class Change:
    """One thing rehost did (changed=True) or found and left alone (a note)."""

    code: str
    message_en: str
    message_zh: str
    path: str = ""
    changed: bool = True


def tools(guest: GuestShell, names: tuple[str, ...]) -> set[str]:
    """Which of the named programs the guest has on its PATH."""
    return guest.programs(names)


def kernels(guest: GuestShell) -> list[str]:
    """Installed kernel versions (directories under /lib/modules)."""
    return sorted(set(guest.ls("/lib/modules")) | set(guest.ls("/usr/lib/modules")))


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
    """root=/resume= by UUID and console=ttyS0 in GRUB/extlinux; grub.cfg regenerated if absent.

    Adaptation keeps every filesystem and its UUID, so an existing grub.cfg edited in place says
    what a regenerated one would; grub-mkconfig (os-prober, grub-probe per kernel) is the
    slowest guest command after the initramfs under TCG, and runs only when there is no grub.cfg.
    """
    changes = _edit_boot_files(guest, BOOT_CONFIGS[:1])
    if changes and not any(guest.read(path) is not None for path in GRUB_CFGS):
        changes.append(_regenerate_grub(guest))
    elif changes:
        changes.append(Change("Adapt.Grub", "GRUB configuration edited in place, not "
                              "regenerated (filesystems and UUIDs unchanged)",
                              "GRUB 配置已直接修改，未重新生成（文件系统与 UUID 未变）",
                              "/boot", changed=False))
    return changes + _edit_boot_files(guest, BOOT_CONFIGS[1:])


def _regenerate_grub(guest: GuestShell) -> Change:
    """grub.cfg written by the guest's update-grub / grub(2)-mkconfig."""
    regen = tools(guest, ("update-grub", "grub2-mkconfig", "grub-mkconfig"))
    command = ("update-grub" if "update-grub" in regen else
               "grub2-mkconfig -o /boot/grub2/grub.cfg" if "grub2-mkconfig" in regen else
               "grub-mkconfig -o /boot/grub/grub.cfg" if "grub-mkconfig" in regen else "")
    if not command:
        return Change("Adapt.Grub", "no grub.cfg and no grub-mkconfig in the guest: GRUB "
                      "configuration not regenerated", "客户机中没有 grub.cfg 和 grub-mkconfig，"
                      "未重新生成 GRUB 配置", "/boot", changed=False)
    done = guest.sh(f"out=$({command} 2>&1) && echo ok || echo failed").strip()
    if done == "ok":
        return Change("Adapt.Grub", f"GRUB configuration regenerated ({command})",
                      f"已重新生成 GRUB 配置（{command}）", "/boot")
    return Change("Adapt.Grub", f"{command} failed in the guest; GRUB configuration not "
                  "regenerated", f"客户机中 {command} 执行失败，未重新生成 GRUB 配置", "/boot",
                  changed=False)


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
    for path, new in _mac_bound(guest):
        guest.write(path, new)
        changes.append(Change("Adapt.Network", f"{path}: MAC binding removed",
                              f"{path}：已移除 MAC 绑定", path))
    return changes


def network_kept(guest: GuestShell) -> list[Change]:
    """keep_static_network: nothing changed; the MAC-bound files are named so the NIC can match."""
    bound = [p for p in PERSISTENT_NET if guest.read(p) is not None]
    bound += [path for path, _new in _mac_bound(guest)]
    shown = ", ".join(bound) or "none found"
    return [Change("Adapt.NetworkKept",
                   "network configuration kept as on the source (keep_static_network); "
                   f"MAC-bound files left as they were: {shown} (give the new NIC the source's "
                   "MAC address)",
                   "按源服务器保留网络配置（keep_static_network）；未修改按 MAC 绑定的文件："
                   f"{shown}（请为新网卡设置源服务器的 MAC 地址）", changed=False)]


def _mac_bound(guest: GuestShell) -> list[tuple[str, str]]:
    """(path, text without its MAC lines) of each interface configuration bound to a MAC."""
    found = []
    for directory in MAC_CONFIG_DIRS:
        for name in guest.ls(directory):
            path = f"{directory}/{name}"
            text = guest.read(path) if name.startswith("ifcfg-") or "system-connections" in \
                directory else None
            if text is None:
                continue
            new, removed = without_mac_lines(text)
            if removed:
                found.append((path, new))
    return found


def hypervisor_tools(guest: GuestShell) -> list[Change]:
    """VMware/Hyper-V/Xen guest services disabled (they fail or spin on KVM)."""
    changes = []
    found = guest.wanted_units(HYPERVISOR_UNITS)
    for unit in (u for u in HYPERVISOR_UNITS if u in found):
        guest.disable_unit(unit)
        changes.append(Change("Adapt.HypervisorTools", f"disabled {unit}",
                              f"已禁用 {unit}", unit))
    return changes


def guest_agents(guest: GuestShell) -> list[Change]:
    """cloud-init and qemu-guest-agent presence, reported (nothing changed)."""
    found = tools(guest, tuple(program for program, _ in AGENTS))
    return [Change("Adapt.Agents", f"{package} is {'present' if program in found else 'absent'}",
                   f"{package}{'已安装' if program in found else '未安装'}", changed=False)
            for program, package in AGENTS]
