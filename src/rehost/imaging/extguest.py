"""A guest whose boot-relevant filesystems are all ext2/3/4, adapted on this host with debugfs.

OS adaptation only reads and rewrites files (fstab, GRUB's configuration, the initramfs, udev
rules, systemd links). When every filesystem the guest's fstab mounts and adaptation touches is
ext2/3/4 on a plain partition, e2fsprogs' `debugfs -w` does that directly on the working copy
(`image?offset=N`): no appliance VM to boot, which under TCG costs 11 s before the first file
is read. Nothing of the guest runs anywhere. The shell refuses (OfflineUnsupported) whatever it
cannot do — running a guest program (an initramfs rebuild, grub-mkconfig), a path on a
non-ext filesystem — and the adaptation then starts over in the libguestfs appliance (every
step is idempotent, so what was already done is found done).

Not offered (open_ext_guest returns None, the appliance is used): LVM or md roots, a journal
that needs recovery (the appliance replays it when it mounts), a fstab that names no root.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rehost.imaging.errors import ImagingError, ToolError
from rehost.imaging.extfs import needs_recovery, parse_ls, spec
from rehost.imaging.guestfish import BIN_DIRS
from rehost.imaging.guestmount import FoundRoot, ProbedFs, mount_plan
from rehost.imaging.layout import EXT_TYPES, read_layout

DEBUGFS = "debugfs"
DEBUGFS_TIMEOUT_S = 600.0
MAX_LINKS = 8
REGULAR = 0o100000
SYSTEMD_DIR = "/etc/systemd/system"


class OfflineUnsupported(ImagingError):
    """The host-side ext shell cannot do this; the appliance will."""

    code = "Adapt.Offline"


@dataclass(frozen=True, slots=True)
class ExtMount:
    """A mount point of the guest and the e2fsprogs spec of its filesystem ("" = not ext)."""

    mountpoint: str
    device: str  # the guest's device name as the appliance would show it (/dev/sda1)
    spec: str
    fs: str


@dataclass(frozen=True, slots=True)
class Inode:
    """What debugfs stat says of a path."""

    kind: str  # regular, directory, symlink, ...
    mode: int  # permission bits (debugfs stat shows no type bits)
    uid: int
    gid: int
    target: str = ""  # a symlink's destination
    xattrs: tuple[str, ...] = ()  # extended attribute names (security.selinux, ACLs, ...)


def open_ext_guest(disk_paths: Sequence[Path]) -> ExtGuestShell | None:
    """The guest as an ExtGuestShell, or None when its layout needs the appliance."""
    devices: list[ProbedFs] = []
    specs: dict[str, str] = {}
    for index, disk in enumerate(disk_paths):
        letter = chr(ord("a") + index) if index < 26 else None
        if letter is None:
            return None
        for part in read_layout(disk).data_partitions:
            name = f"/dev/sd{letter}{part.number or ''}"
            tags = {"TYPE": part.fs, "UUID": part.uuid, "LABEL": part.label,
                    "PARTUUID": part.partuuid, "PARTLABEL": part.partlabel}
            devices.append(ProbedFs(name, {k: v for k, v in tags.items() if v}))
            specs[name] = spec(disk, part.start_bytes)
    roots = []
    for device in devices:
        if device.fs in EXT_TYPES:
            text = _cat(specs[device.device], "/etc/fstab")
            if text is not None:
                roots.append(FoundRoot(device.device, "", text.decode("utf-8", "replace")))
    plan = mount_plan(devices, roots)
    if plan is None:
        return None
    mounts = []
    for mount in plan:
        fs = next(d.fs for d in devices if d.device == mount.device)
        ext = fs in EXT_TYPES and not mount.options
        if mount.mountpoint == "/" and not ext:
            return None
        if ext and needs_recovery(specs[mount.device]):
            return None
        mounts.append(ExtMount(mount.mountpoint, mount.device,
                               specs[mount.device] if ext else "", fs))
    return ExtGuestShell(mounts, {d.device: d.tags.get("UUID", "") for d in devices})


def _cat(device: str, path: str) -> bytes | None:
    """A regular file's bytes (debugfs cat), None when it is missing or not a file."""
    inode = _stat(device, path)
    if inode is None or inode.kind != "regular":
        return None
    return _debugfs(device, [f"cat {_quoted(path)}"])


def _stat(device: str, path: str) -> Inode | None:
    out = _debugfs(device, [f"stat {_quoted(path)}"]).decode("utf-8", "replace")
    return _parse_stat(out)


def _parse_stat(out: str) -> Inode | None:
    kind = re.search(r"Type: (\S+)\s+Mode:\s+(\d+)", out)
    owner = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)", out)
    if kind is None or owner is None:
        return None
    target = re.search(r'Fast link dest: "(.*)"', out)
    listed = out.partition("Extended attributes:\n")[2]
    names = re.findall(r"^  (\S+) \(\d+\)", listed, re.M)
    return Inode(kind.group(1), int(kind.group(2), 8), int(owner.group(1)),
                 int(owner.group(2)), target.group(1) if target else "",
                 tuple(n for n in names if n != "system.data"))


def _quoted(path: str) -> str:
    if '"' in path or "\n" in path:
        raise OfflineUnsupported(f"{path!r}: a name debugfs cannot be given",
                                 f"{path!r}：debugfs 无法处理的文件名")
    return f'"{path}"' if " " in path else path


def _debugfs(device: str, commands: Sequence[str], *, write: bool = False) -> bytes:
    """debugfs over the commands (one process); its stdout."""
    args = [DEBUGFS, *(["-w"] if write else [])]
    with tempfile.NamedTemporaryFile("w", prefix="rehost-debugfs-", suffix=".cmd") as script:
        script.write("\n".join(commands) + "\n")
        script.flush()
        args += ["-R", commands[0]] if len(commands) == 1 else ["-f", script.name]
        try:
            proc = subprocess.run([*args, device], capture_output=True,
                                  timeout=DEBUGFS_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError(args, -1, str(exc)) from exc
    if proc.returncode != 0:
        raise ToolError(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    if write and re.search(rb"^\S+: .*(?:error|Error|not found|No space|Could not)",
                           proc.stderr, re.M):
        raise OfflineUnsupported(
            f"debugfs could not edit the filesystem: {proc.stderr.decode()[-300:]}",
            f"debugfs 无法修改文件系统：{proc.stderr.decode()[-300:]}")
    return proc.stdout


class ExtGuestShell:
    """GuestShell over debugfs: the guest's files read and written on this host."""

    def __init__(self, mounts: Sequence[ExtMount], uuids: dict[str, str]) -> None:
        self._mounts = sorted(mounts, key=lambda m: len(m.mountpoint), reverse=True)
        self._uuids = uuids

    # paths -------------------------------------------------------------------------------

    def _where(self, path: str) -> tuple[str, str]:
        """(e2fsprogs spec, path inside that filesystem) of a guest path (symlinks not yet)."""
        for mount in self._mounts:
            top = mount.mountpoint.rstrip("/")
            if path == mount.mountpoint or path.startswith(top + "/"):
                if not mount.spec:
                    raise OfflineUnsupported(
                        f"{path} is on a {mount.fs} filesystem ({mount.mountpoint})",
                        f"{path} 位于 {mount.fs} 文件系统（{mount.mountpoint}）")
                inner = path[len(top):] or "/"
                return mount.spec, inner
        raise OfflineUnsupported(f"{path}: no filesystem of the guest holds it",
                                 f"{path}：客户机没有包含它的文件系统")

    def _resolve(self, path: str) -> tuple[str, str, Inode | None]:
        """The path with its final symlinks followed: (spec, inner path, inode or None)."""
        for _ in range(MAX_LINKS):
            device, inner = self._where(path)
            inode = _stat(device, inner)
            if inode is None or inode.kind != "symlink":
                return device, inner, inode
            target = inode.target
            if not target:
                raise OfflineUnsupported(f"{path}: a symlink debugfs does not show",
                                         f"{path}：debugfs 无法读取的符号链接")
            path = str(PurePosixPath(path).parent / target) if not target.startswith("/") \
                else target
        raise OfflineUnsupported(f"{path}: too many symlinks", f"{path}：符号链接层数过多")

    # GuestShell --------------------------------------------------------------------------

    def sh(self, script: str) -> str:
        """A guest program would have to run: only the appliance does that."""
        first = script.split(";")[-1].strip().split(" ")[0] if script else ""
        raise OfflineUnsupported(f"running a guest program ({first or 'sh'}) needs the "
                                 "libguestfs appliance", f"运行客户机程序（{first or 'sh'}）"
                                 "需要 libguestfs 设备")

    def read(self, path: str) -> str | None:
        """A file's text, None when it is not a regular file."""
        data = self.read_bytes(path)
        return data.decode("utf-8", "replace") if data is not None else None

    def read_bytes(self, path: str) -> bytes | None:
        """A file's bytes, None when it is not a regular file."""
        device, inner, inode = self._resolve(path)
        if inode is None or inode.kind != "regular":
            return None
        return _debugfs(device, [f"cat {_quoted(inner)}"])

    def read_files(self, paths: list[str]) -> list[bytes | None]:
        """Several files' bytes."""
        return [self.read_bytes(p) for p in paths]

    def write(self, path: str, text: str) -> None:
        """Replace a file's content (mode and owner kept; a new file: 0644 root)."""
        self.write_bytes(path, text.encode())

    def write_bytes(self, path: str, data: bytes) -> None:
        """rm + write + sif in one debugfs run: the new inode gets the old mode and owner."""
        device, inner, inode = self._resolve(path)
        if inode is not None and inode.kind != "regular":
            raise OfflineUnsupported(f"{path} is a {inode.kind}, not a file",
                                     f"{path} 是 {inode.kind}，不是普通文件")
        parent, name = str(PurePosixPath(inner).parent), PurePosixPath(inner).name
        mode = REGULAR | (inode.mode if inode is not None else 0o644)
        uid, gid = (inode.uid, inode.gid) if inode is not None else (0, 0)
        staged = _quoted(f".{name}.rehost-new")
        xattrs = inode.xattrs if inode is not None else ()
        with tempfile.TemporaryDirectory(prefix="rehost-extguest-") as tmp:
            local = Path(tmp) / "file"
            local.write_bytes(data)
            saved = [Path(tmp) / f"xattr{i}" for i in range(len(xattrs))]
            if xattrs:  # SELinux labels and ACLs go with the content
                _debugfs(device, [f"ea_get -f {out} {_quoted(inner)} {name}"
                                  for out, name in zip(saved, xattrs, strict=True)])
            # the new content is complete under a temporary name before the old one goes;
            # debugfs' ln does not count links, so ln + unlink leaves exactly one
            _debugfs(device, [f"cd {_quoted(parent)}", f"write {local} {staged}",
                              f"sif {staged} mode 0{mode:o}", f"sif {staged} uid {uid}",
                              f"sif {staged} gid {gid}",
                              *(f"ea_set -f {value} {staged} {name}"
                                for value, name in zip(saved, xattrs, strict=True)
                                if value.exists())], write=True)
        staged_inode = _stat(device, f"{parent.rstrip('/')}/.{name}.rehost-new")
        if staged_inode is None or staged_inode.kind != "regular" or \
                set(staged_inode.xattrs) != set(xattrs):
            raise OfflineUnsupported(f"debugfs did not write {path} with its attributes",
                                     f"debugfs 未能连同属性写入 {path}")
        _debugfs(device, [f"cd {_quoted(parent)}", *([f"rm {_quoted(name)}"] if inode else []),
                          f"ln {staged} {_quoted(name)}", f"unlink {staged}"], write=True)
        written = _stat(device, inner)
        if written is None or written.kind != "regular":
            raise OfflineUnsupported(f"debugfs did not write {path}",
                                     f"debugfs 未能写入 {path}")

    def ls(self, directory: str) -> list[str]:
        """Names in a directory; empty when it does not exist."""
        device, inner, inode = self._resolve(directory)
        if inode is None or inode.kind != "directory":
            return []
        return [name for name, _mode in self._entries(device, inner)]

    def _entries(self, device: str, inner: str) -> list[tuple[str, int]]:
        out = _debugfs(device, [f"ls -p {_quoted(inner)}"]).decode("utf-8", "replace")
        return parse_ls(out)

    def remove(self, path: str) -> None:
        """Delete a file or symlink (not followed)."""
        device, inner = self._where(path)
        inode = _stat(device, inner)
        if inode is None:
            return
        if inode.kind == "directory":
            raise OfflineUnsupported(f"{path} is a directory", f"{path} 是目录")
        parent, name = str(PurePosixPath(inner).parent), PurePosixPath(inner).name
        _debugfs(device, [f"cd {_quoted(parent)}", f"rm {_quoted(name)}"], write=True)

    def uuid(self, device: str) -> str | None:
        """Filesystem UUID of a device as the appliance would name it (/dev/sda1)."""
        return self._uuids.get(device) or None

    def os_type(self) -> str:
        """A root with /etc/fstab was found: Linux."""
        return "linux"

    def programs(self, names: Sequence[str]) -> set[str]:
        """Executables of those names in BIN_DIRS (symlinks followed)."""
        found = set()
        for name in names:
            for directory in BIN_DIRS:
                _device, _inner, inode = self._resolve(f"{directory}/{name}")
                if inode is not None and inode.kind == "regular" and inode.mode & 0o111:
                    found.add(name)
                    break
        return found

    def wanted_units(self, units: Sequence[str]) -> set[str]:
        """Units linked in /etc/systemd/system/*.wants."""
        return {name for _where, name in self._unit_links(units)}

    def disable_unit(self, unit: str) -> None:
        """Every wants link of the unit removed (what `systemctl disable` does to them)."""
        for where, _name in self._unit_links([unit]):
            self.remove(where)

    def _unit_links(self, units: Sequence[str]) -> list[tuple[str, str]]:
        device, inner, inode = self._resolve(SYSTEMD_DIR)
        if inode is None or inode.kind != "directory":
            return []
        links = []
        for wants, _mode in self._entries(device, inner):
            if not wants.endswith(".wants"):
                continue
            for name, mode in self._entries(device, f"{inner}/{wants}"):
                if name in units and mode & 0o170000 == 0o120000:
                    links.append((f"{SYSTEMD_DIR}/{wants}/{name}", name))
        return links
