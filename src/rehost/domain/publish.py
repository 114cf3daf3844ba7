"""Publish targets of a region (libvirt, OpenStack Glance), their validation, and publications."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from rehost.domain import errors

TARGET_KINDS = ("libvirt", "glance")
GLANCE_DISK_FORMATS = ("raw", "qcow2")
DOMAIN_TYPES = ("", "kvm", "qemu")
DISK_BUSES = ("virtio", "sata")
DEFAULT_VCPUS = 1
DEFAULT_MEMORY_MIB = 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class PublishStatus(StrEnum):
    """Where a publication stands; a retry of a Failed one finds what the last attempt did."""

    PUBLISHING = "Publishing"
    PUBLISHED = "Published"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class LibvirtTarget:
    """A libvirt host: disks go into `pool`, a domain is defined per image."""

    uri: str
    pool: str
    pool_path: str = ""  # create `pool` as a dir pool here when it does not exist
    network: str = ""  # libvirt network of the NIC ("" = no NIC)
    console_log_dir: str = "/var/log/libvirt/qemu"  # serial console log files (libvirtd side)
    domain_type: str = ""  # kvm | qemu | "" (kvm when the host offers it)
    disk_bus: str = "virtio"  # sata: for guests without virtio drivers (not adapted)


@dataclass(frozen=True, slots=True)
class GlanceTarget:
    """An OpenStack image service: one Glance image per disk."""

    endpoint: str = ""  # image API URL of a Glance without authentication
    cloud: str = ""  # a clouds.yaml entry (Keystone credentials stay out of rehost's database)
    disk_format: str = "qcow2"  # what is uploaded: raw, or qcow2 (converted, sparse on the wire)
    visibility: str = "private"


Target = LibvirtTarget | GlanceTarget


@dataclass(frozen=True, slots=True)
class MachineSize:
    """CPU and memory of the machine defined from an image."""

    vcpus: int
    memory_mib: int
    origin: str  # "inventory", "request" or "default"


@dataclass(frozen=True, slots=True)
class Publication:
    """An image put into one target of its region."""

    image_id: str
    target: str
    region_id: str
    status: PublishStatus
    bytes_done: int
    bytes_total: int
    remote: Mapping[str, Any]
    error_code: str
    error_message: str
    created_at: datetime
    updated_at: datetime


def _bad(field: str, en: str, zh: str) -> errors.InvalidParameter:
    return errors.invalid(field, en, zh)


def check_kind(kind: str) -> str:
    """The target kind, or a bilingual error naming the choices."""
    if kind not in TARGET_KINDS:
        raise _bad("Target", f"target must be one of {', '.join(TARGET_KINDS)}, got {kind!r}.",
                   f"target 只能是 {'、'.join(TARGET_KINDS)} 之一，当前为 {kind!r}。")
    return kind


def _known_keys(kind: str, doc: Mapping[str, object], cls: type[Target]) -> dict[str, str]:
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(doc) - set(names))
    if unknown:
        raise _bad("PublishTarget", f"unknown {kind} setting(s) {unknown}; known: {names}.",
                   f"未知的 {kind} 设置 {unknown}；可用：{names}。")
    wrong = sorted(k for k, v in doc.items() if not isinstance(v, str))
    if wrong:
        raise _bad("PublishTarget", f"{kind} settings {wrong} must be strings.",
                   f"{kind} 设置 {wrong} 必须是字符串。")
    return {k: str(v) for k, v in doc.items()}


def _need(kind: str, key: str, value: str) -> None:
    if not value:
        raise _bad("PublishTarget", f"the {kind} target needs `{key}`.",
                   f"{kind} 发布目标缺少 `{key}`。")


def _libvirt(doc: dict[str, str]) -> LibvirtTarget:
    target = LibvirtTarget(**{"uri": "", "pool": "", **doc})
    _need("libvirt", "uri", target.uri)
    _need("libvirt", "pool", target.pool)
    for key in ("pool", "network"):
        value = getattr(target, key)
        if value and not _NAME.match(value):
            raise _bad("PublishTarget", f"libvirt {key} {value!r} must be 1-64 letters, digits, "
                       "'_', '.', '-'.", f"libvirt {key} {value!r} 须为 1-64 个字母、数字、"
                       "'_'、'.'、'-'。")
    for key in ("pool_path", "console_log_dir"):
        value = getattr(target, key)
        if value and not value.startswith("/"):
            raise _bad("PublishTarget", f"libvirt {key} must be an absolute path, got {value!r}.",
                       f"libvirt {key} 须为绝对路径，当前为 {value!r}。")
    if target.domain_type not in DOMAIN_TYPES:
        raise _bad("PublishTarget", f"libvirt domain_type must be kvm, qemu or empty (auto), got "
                   f"{target.domain_type!r}.", f"libvirt domain_type 只能是 kvm、qemu 或留空"
                   f"（自动），当前为 {target.domain_type!r}。")
    if target.disk_bus not in DISK_BUSES:
        raise _bad("PublishTarget", f"libvirt disk_bus must be virtio or sata, got "
                   f"{target.disk_bus!r}.", f"libvirt disk_bus 只能是 virtio 或 sata，当前为 "
                   f"{target.disk_bus!r}。")
    return target


def _glance(doc: dict[str, str]) -> GlanceTarget:
    target = GlanceTarget(**doc)
    if bool(target.endpoint) == bool(target.cloud):
        raise _bad("PublishTarget", "the glance target needs exactly one of `endpoint` (a Glance "
                   "without authentication) or `cloud` (a clouds.yaml entry).",
                   "glance 发布目标须且只能设置 `endpoint`（无认证的 Glance）或 `cloud`"
                   "（clouds.yaml 中的条目）之一。")
    if target.endpoint and not re.match(r"^https?://[^\s/]+", target.endpoint):
        raise _bad("PublishTarget", f"glance endpoint must be an http(s) URL, got "
                   f"{target.endpoint!r}.", f"glance endpoint 须为 http(s) 地址，当前为 "
                   f"{target.endpoint!r}。")
    if target.disk_format not in GLANCE_DISK_FORMATS:
        raise _bad("PublishTarget", f"glance disk_format must be raw or qcow2, got "
                   f"{target.disk_format!r}.", f"glance disk_format 只能是 raw 或 qcow2，当前为 "
                   f"{target.disk_format!r}。")
    if target.visibility not in ("private", "shared", "community", "public"):
        raise _bad("PublishTarget", "glance visibility must be private, shared, community or "
                   "public.", "glance visibility 只能是 private、shared、community 或 public。")
    return target


def parse_target(kind: str, doc: Mapping[str, object]) -> Target:
    """A validated target from its settings document."""
    if check_kind(kind) == "libvirt":
        return _libvirt(_known_keys(kind, doc, LibvirtTarget))
    return _glance(_known_keys(kind, doc, GlanceTarget))


def target_doc(target: Target) -> dict[str, str]:
    """The settings document stored for a target."""
    return {f.name: str(getattr(target, f.name)) for f in fields(target)}


def machine_size(inventory: Mapping[str, Any], *, vcpus: int | None,
                 memory_mib: int | None) -> MachineSize:
    """CPU and memory: the request's, else the source's inventory, else defaults."""
    if vcpus is not None or memory_mib is not None:
        for name, value, top in (("vcpus", vcpus, 256), ("memory_mib", memory_mib, 4 << 20)):
            if value is not None and not 1 <= value <= top:
                raise _bad(name.title(), f"{name} must be 1-{top}, got {value}.",
                           f"{name} 须在 1-{top} 之间，当前为 {value}。")
        return MachineSize(vcpus or DEFAULT_VCPUS, memory_mib or DEFAULT_MEMORY_MIB, "request")
    found = inventory.get("system")  # what a running agent reported (rehost.agent.sysinfo)
    system: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    cpus, memory = system.get("cpu_cores"), system.get("memory_bytes")
    if isinstance(cpus, int) and isinstance(memory, int) and cpus > 0 and memory > 0:
        return MachineSize(min(cpus, 256), max(256, memory // (1 << 20)), "inventory")
    return MachineSize(DEFAULT_VCPUS, DEFAULT_MEMORY_MIB, "default")


OS_DISTROS = {"debian": "debian", "ubuntu": "ubuntu", "centos": "centos", "rhel": "rhel",
              "red hat": "rhel", "rocky": "rocky", "almalinux": "almalinux", "fedora": "fedora",
              "opensuse": "opensuse", "sles": "sles", "suse": "sles", "arch": "arch",
              "windows": "windows", "alpine": "alpine", "oracle": "ol"}


def os_distro(os_name: str) -> str:
    """Glance's `os_distro` (the os-info short family) for a source's OS name, or ""."""
    lowered = os_name.lower()
    return next((v for k, v in OS_DISTROS.items() if k in lowered), "")
