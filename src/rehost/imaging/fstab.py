"""Checks that /etc/fstab entries will resolve on the migrated (virtio) machine."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rehost.imaging.layout import ImageLayout
from rehost.imaging.result import CheckResult, CheckStatus
from rehost.imaging.volumes import FsVolume

VIRTUAL_TYPES = frozenset({"proc", "sysfs", "tmpfs", "devpts", "devtmpfs", "cgroup", "cgroup2",
                           "securityfs", "debugfs", "efivarfs", "hugetlbfs", "mqueue", "nfs",
                           "nfs4", "cifs", "fuse", "bind", "none", "overlay", "9p", "virtiofs"})
VIRTIO_NAME = re.compile(r"^/dev/vd([a-z])(\d*)$")
OTHER_DISK_NAME = re.compile(r"^/dev/(?:sd|xvd|hd)([a-z])(\d*)$|^/dev/nvme(\d+)n1(?:p(\d+))?$")
LV_PATH = re.compile(r"^/dev/mapper/(?P<m>.+)$|^/dev/(?P<vg>[^/]+)/(?P<lv>[^/]+)$")
BY_PATH = {"/dev/disk/by-uuid/": "UUID=", "/dev/disk/by-label/": "LABEL=",
           "/dev/disk/by-partuuid/": "PARTUUID=", "/dev/disk/by-partlabel/": "PARTLABEL="}


@dataclass(frozen=True, slots=True)
class FstabEntry:
    """One fstab line."""

    spec: str
    mountpoint: str
    fstype: str
    options: tuple[str, ...]

    @property
    def optional(self) -> bool:
        """True when boot does not wait for it (nofail / noauto)."""
        return "nofail" in self.options or "noauto" in self.options


def parse_fstab(text: str) -> list[FstabEntry]:
    """Parse fstab text (comments and blank lines skipped)."""
    entries = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3:
            options = tuple(fields[3].split(",")) if len(fields) > 3 else ()
            entries.append(FstabEntry(fields[0], fields[1], fields[2], options))
    return entries


def check_fstab(text: str, layouts: Sequence[ImageLayout],
                volumes: Sequence[FsVolume]) -> list[CheckResult]:
    """One result per problem entry, or a single pass."""
    problems = [r for e in parse_fstab(text)
                if (r := _check_entry(e, layouts, volumes)) is not None]
    if problems:
        return problems
    return [CheckResult("fstab", "pass", "all /etc/fstab entries resolve",
                        "/etc/fstab 中的所有条目均可解析")]


def tagged(spec: str) -> str:
    """/dev/disk/by-uuid/X -> UUID=X (and the other by-* directories); others unchanged."""
    for prefix, tag in BY_PATH.items():
        if spec.startswith(prefix):
            return tag + spec[len(prefix):]
    return spec


def resolve_spec(spec: str, volumes: Sequence[FsVolume]) -> list[FsVolume]:
    """The filesystems an fstab spec names: UUID=, LABEL=, /dev/disk/by-*, LV paths."""
    spec = tagged(spec)
    if "=" in spec and not spec.startswith("/"):
        tag, value = spec.split("=", 1)
        value = value.strip('"')
        if tag == "UUID":
            return [v for v in volumes if v.uuid and v.uuid.lower() == value.lower()]
        return [v for v in volumes if tag == "LABEL" and v.label and v.label == value]
    lv = lv_name(spec)
    return [v for v in volumes if lv is not None and v.lv == lv]


def lv_name(spec: str) -> str | None:
    """'vg/lv' for /dev/mapper/vg-lv (dashes doubled in names) and /dev/vg/lv; else None."""
    match = LV_PATH.match(spec)
    if match is None or spec == "/dev/mapper/control":
        return None
    if match.group("m") is None:
        return f"{match.group('vg')}/{match.group('lv')}"
    parts = re.split(r"(?<!-)-(?!-)", match.group("m"))
    if len(parts) != 2:
        return None
    return "/".join(p.replace("--", "-") for p in parts)


def _check_entry(entry: FstabEntry, layouts: Sequence[ImageLayout],
                 volumes: Sequence[FsVolume]) -> CheckResult | None:
    """None when the entry resolves (or is not a block device); else a warn/fail result."""
    spec = tagged(entry.spec)
    if entry.fstype in VIRTUAL_TYPES or entry.fstype.startswith("fuse") or spec in ("none", ""):
        return None
    if "=" in spec and not spec.startswith("/"):
        found = _resolve_tag(spec, layouts, volumes)
        if found is None:
            return _unverifiable(entry)
        return None if found else _missing(entry, f"no partition or volume has {spec}",
                                           f"没有分区或卷具有 {spec}", "")
    lv = lv_name(spec)
    if lv is not None and not VIRTIO_NAME.match(spec) and not OTHER_DISK_NAME.match(spec):
        return _check_lv(entry, lv, volumes)
    return _check_device_name(entry, spec, layouts)


def _check_lv(entry: FstabEntry, lv: str, volumes: Sequence[FsVolume]) -> CheckResult | None:
    """An LV path resolves when the LV was found; unverifiable when no LV could be read."""
    if any(v.lv == lv for v in volumes):
        return None
    # only a known volume group proves the path is LVM (/dev/mapper also holds dm-crypt)
    if lv.split("/", 1)[0] not in {v.lv.split("/", 1)[0] for v in volumes if v.lv}:
        return _unverifiable(entry)
    known = ", ".join(sorted({v.lv for v in volumes if v.lv}))
    return _missing(entry, f"no logical volume {lv} (found: {known})",
                    f"不存在逻辑卷 {lv}（已找到：{known}）", "")


def _resolve_tag(spec: str, layouts: Sequence[ImageLayout],
                 volumes: Sequence[FsVolume]) -> bool | None:
    """Whether a TAG=value spec matches a partition or volume (None: cannot tell)."""
    tag, value = spec.split("=", 1)
    value = value.strip('"')
    parts = [p for layout in layouts for p in layout.partitions]
    fields = {"UUID": [p.uuid for p in parts] + [v.uuid for v in volumes],
              "LABEL": [p.label for p in parts] + [v.label for v in volumes],
              "PARTLABEL": [p.partlabel for p in parts]}
    if tag == "PARTUUID" and all(layout.table == "gpt" for layout in layouts):
        fields["PARTUUID"] = [p.partuuid for p in parts]
    if tag not in fields:
        return None
    if tag in ("UUID", "PARTUUID"):
        return value.lower() in {v.lower() for v in fields[tag] if v}
    return value in fields[tag]


def _check_device_name(
    entry: FstabEntry, spec: str, layouts: Sequence[ImageLayout]
) -> CheckResult | None:
    """Kernel device names: /dev/vdXN must exist; sd/xvd/hd/nvme names will not under virtio."""
    virtio = VIRTIO_NAME.match(spec)
    if virtio is not None:
        index, number = ord(virtio.group(1)) - ord("a"), int(virtio.group(2) or 0)
        exists = index < len(layouts) and (
            number == 0 or any(p.number == number for p in layouts[index].partitions))
        return None if exists else _missing(entry, f"{spec} will not exist", f"{spec} 将不存在",
                                            "")
    other = OTHER_DISK_NAME.match(spec)
    if other is not None:
        hint = _uuid_hint(other, layouts)
        return _missing(entry, f"{spec} will not exist: the migrated disks are virtio (/dev/vdX)",
                        f"{spec} 将不存在：迁移后的磁盘为 virtio 设备（/dev/vdX）", hint)
    return _unverifiable(entry)


def _uuid_hint(match: re.Match[str], layouts: Sequence[ImageLayout]) -> str:
    """Suggest the UUID= spec for a sdXN/nvmeXnYpN name when the partition is known."""
    if match.group(1) is not None:
        index, number = ord(match.group(1)) - ord("a"), int(match.group(2) or 0)
    else:
        index, number = int(match.group(3)), int(match.group(4) or 0)
    if index < len(layouts):
        for part in layouts[index].partitions:
            if part.number == number and part.uuid:
                return f"replace it with UUID={part.uuid}"
    return "use UUID= or LABEL= instead of device names"


def _missing(entry: FstabEntry, why_en: str, why_zh: str, hint: str) -> CheckResult:
    """A fail for required entries, a warn for nofail/noauto ones."""
    status: CheckStatus = "warn" if entry.optional else "fail"
    effect_en = "boot continues without it" if entry.optional else "boot will stop at it"
    effect_zh = "启动时将跳过该挂载" if entry.optional else "启动将因此中断"
    return CheckResult(
        f"fstab:{entry.mountpoint}", status,
        f"/etc/fstab entry {entry.spec} for {entry.mountpoint}: {why_en}; {effect_en}",
        f"/etc/fstab 中 {entry.mountpoint} 的条目 {entry.spec}：{why_zh}；{effect_zh}",
        hint or "use UUID= or LABEL= of an existing partition, or add nofail",
    )


def _unverifiable(entry: FstabEntry) -> CheckResult:
    """LVM, device-mapper, MBR PARTUUIDs and the like: not verified, say so."""
    return CheckResult(
        f"fstab:{entry.mountpoint}", "warn",
        f"/etc/fstab entry {entry.spec} for {entry.mountpoint} could not be verified",
        f"无法验证 /etc/fstab 中 {entry.mountpoint} 的条目 {entry.spec}",
        "check that the device exists after migration (RAID, dm-crypt, LVs rehost could not read "
        "and MBR PARTUUIDs are not checked)",
    )
