"""File-level rebuild: a disk recreated at a size block-level resizing cannot reach.

On the build's working copy only (the received disks stay pristine; a crash discards the
working copy and the build starts again from them). The host writes the new partition table
(sfdisk, same table type, disk id, partition types, GUIDs and names), the boot code and the
volumes that keep their size byte for byte; the libguestfs appliance then recreates the VG
(same names), every resized filesystem (same type, UUID, label, features; a btrfs also its
subvolumes with their IDs, read-only flags and default) and the swap areas, copies the files
with `cp -a` (owner, mode, ACLs, xattrs, hard links, sparse files, device nodes) and reinstalls
the guest's GRUB for BIOS with the guest's own grub-install and grub-mkconfig.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rehost.imaging.applianceinfo import wrapped
from rehost.imaging.command import run_tool
from rehost.imaging.guestfish import GuestfishShell, open_disks
from rehost.imaging.layout import BIOS_BOOT_TYPE, read_layout
from rehost.imaging.rebuildfs import (
    FILLER,
    XFS_SMALL_ENV,
    RebuildError,
    Subvolume,
    btrfs_mkfs,
    ext_mkfs,
    parse_subvolumes,
    shell,
    subvolume_script,
    swap_mkfs,
    xfs_mkfs,
)
from rehost.imaging.rebuildplan import NewVolume, RebuildLayout, plan_rebuild
from rehost.imaging.sparse import copy_range

SECTOR = 512
XFS_SMALL_BYTES = 300 * (1 << 20)
SRC, DST = "/tmp/rebuild-src", "/tmp/rebuild-dst"  # mount points in the appliance's own root
RC_MARK = "REHOST-RC="  # the exit status of an appliance script, after its output
TOP_SUBVOLUME = 5  # btrfs's top-level subvolume (FS_TREE)
OLD_VG_PREFIX = "rehost-old-"  # the working copy's VG is renamed: the new one takes its name


def rebuild_disk(path: Path, *, target_size_bytes: int) -> RebuildLayout:
    """Rebuild the disk at path to target_size_bytes, file by file; path then holds the result."""
    plan = plan_rebuild(path, target_size_bytes=target_size_bytes, disk_name=path.name)
    old = read_layout(path)
    # GRUB for BIOS lives in the MBR gap or a BIOS boot partition; a UEFI disk keeps its ESP
    bios = old.table == "mbr" or any(p.type_code.upper() == BIOS_BOOT_TYPE
                                     for p in old.partitions)
    new = path.with_name(f".{path.name}.rebuild")
    new.unlink(missing_ok=True)
    with new.open("wb") as out:
        out.truncate(target_size_bytes)
    try:
        if plan.table != "none":
            _write_table(path, new, plan)
        _copy_raw(path, new, plan)
        with open_disks([path, new]) as guest:
            Appliance(guest, plan, old_size_bytes=old.size_bytes).run(bios=bios)
    except BaseException:
        new.unlink(missing_ok=True)
        raise
    os.replace(new, path)
    return plan


def _write_table(old: Path, new: Path, plan: RebuildLayout) -> None:
    """The old table's entries (types, GUIDs, names, flags) at their new starts and sizes."""
    dump = json.loads(run_tool(["sfdisk", "--json", str(old)]).stdout)["partitiontable"]
    placed = {v.number: v for v in plan.volumes}
    lines = [f"label: {dump['label']}"] + ([f"label-id: {dump['id']}"] if "id" in dump else [])
    for entry in sorted(dump.get("partitions", []), key=_number):
        vol = placed[_number(entry)]
        fields = [f"start={vol.new_start_bytes // SECTOR}", f"size={vol.new_size_bytes // SECTOR}",
                  f"type={entry['type']}"]
        fields += [f"uuid={entry['uuid']}"] if "uuid" in entry else []
        fields += [f'name="{entry["name"]}"'] if entry.get("name") else []
        fields += [f'attrs="{entry["attrs"]}"'] if entry.get("attrs") else []
        fields += ["bootable"] if entry.get("bootable") else []
        lines.append(f"{new}{_number(entry)} : " + ", ".join(fields))
    run_tool(["sfdisk", "--no-reread", "--no-tell-kernel", "-q", str(new)],
             input_text="\n".join(lines) + "\n")


def _number(entry: dict[str, object]) -> int:
    node = str(entry["node"])
    digits = len(node) - len(node.rstrip("0123456789"))
    return int(node[-digits:])


def _copy_raw(old: Path, new: Path, plan: RebuildLayout) -> None:
    """Boot code (MBR code area, the gap before the first partition) and kept-size volumes."""
    if plan.table != "none":
        copy_range(old, source_offset=0, dest=new, dest_offset=0, length_bytes=440)
        first = min(v.new_start_bytes for v in plan.volumes)
        after_table = SECTOR if plan.table == "mbr" else 34 * SECTOR
        if first == min(v.old_start_bytes for v in plan.volumes) and first > after_table:
            copy_range(old, source_offset=after_table, dest=new, dest_offset=after_table,
                       length_bytes=first - after_table)
    for vol in plan.volumes:
        if vol.copied_raw and vol.fs != "swap":
            copy_range(old, source_offset=vol.old_start_bytes, dest=new,
                       dest_offset=vol.new_start_bytes, length_bytes=vol.old_size_bytes)


class Appliance:
    """The rebuild steps inside one libguestfs appliance: old disk /dev/sda, new /dev/sdb in
    libguestfs' API names. Its kernel may name them the other way round (the daemon
    translates API names, `debug sh` sees the kernel's): scripts use the kernel names, found
    by the disks' sizes."""

    def __init__(self, guest: GuestfishShell, plan: RebuildLayout, *,
                 old_size_bytes: int) -> None:
        self.guest = guest
        self.plan = plan
        self.old_size_bytes = old_size_bytes
        self.kernel = {"sda": "sda", "sdb": "sdb"}  # API name -> the appliance kernel's
        self.root = ""  # new device holding /etc/fstab
        self.root_options = ""  # its mount options (a btrfs subvolume)
        self.boot = ""  # new device holding a separate /boot (grub/ at its top)

    def sh(self, script: str) -> str:
        """A shell script in the appliance's own root (its tools, not the guest's); its stdout
        and stderr. A failing script raises RebuildError with its output (a failing `debug sh`
        reaches a remote guestfish client without its message). Passed as one word: guestfish
        re-splits `debug sh`'s arguments and drops their quotes (a label with a space)."""
        out = self.guest.run("debug", "sh", wrapped(f"PATH=/usr/sbin:/usr/bin:/sbin:/bin; "
                                                    f"{{ {script} ; }} 2>&1; echo {RC_MARK}$?"))
        body, _, code = out.rstrip("\n").rpartition(RC_MARK)
        if code.strip() != "0":
            detail = f"exit {code.strip() or '?'}: {script[:160]}: {body.strip()[-600:]}"
            raise RebuildError(f"file-level rebuild step failed in the appliance, {detail}",
                               f"按文件重建的步骤在 libguestfs 设备中失败，{detail}")
        return body

    def settle(self) -> None:
        """Wait for udev: a device it is still probing is busy for mkfs (O_EXCL)."""
        self.sh("udevadm settle --timeout=60 || true")

    def run(self, *, bios: bool) -> None:
        """Recreate every volume, copy the files, reinstall the bootloader."""
        self.sh(f"mkdir -p {SRC} {DST}")
        self._find_disks()
        for vol in self.plan.volumes:
            if vol.vg_name:
                self._volume_group(vol)
            elif not vol.copied_raw or vol.fs == "swap":
                self._recreate(vol.fs, self._part("sda", vol), self._part("sdb", vol),
                               vol.new_size_bytes)
        if bios and self.root:
            self._bootloader()

    def _find_disks(self) -> None:
        """The kernel names of the old and the new disk, by their sizes (a rebuild shrinks)."""
        out = self.sh("for d in /sys/block/sd*; do echo ${d##*/} $(cat $d/size); done")
        rows = [line.split() for line in out.splitlines()]
        sizes = [(r[0], int(r[1]) * SECTOR) for r in rows if len(r) == 2 and r[1].isdigit()]
        old = [n for n, size in sizes if size == self.old_size_bytes]
        new = [n for n, size in sizes if size == self.plan.size_bytes]
        if len(old) != 1 or len(new) != 1:
            raise RebuildError(f"cannot tell the old disk from the new one in the appliance "
                               f"(disks and sizes: {sizes})",
                               f"无法在 libguestfs 设备中区分旧磁盘与新磁盘（磁盘与大小：{sizes}）")
        self.kernel = {"sda": old[0], "sdb": new[0]}

    def _api_name(self, device: str) -> str:
        """A kernel device name of the new disk in libguestfs' API names (LV paths as they are)."""
        prefix = f"/dev/{self.kernel['sdb']}"
        return "/dev/sdb" + device[len(prefix):] if device.startswith(prefix) else device

    def _part(self, disk: str, vol: NewVolume) -> str:
        name = self.kernel[disk]
        return f"/dev/{name}" if self.plan.table == "none" else f"/dev/{name}{vol.number}"

    def _volume_group(self, vol: NewVolume) -> None:
        """Rename the old VG, create the new one (same name, extent size) and its LVs."""
        old_vg, pv = f"{OLD_VG_PREFIX}{vol.vg_name}", self._part("sdb", vol)
        self.sh(f"lvm vgrename {shell([vol.vg_name, old_vg])} && lvm vgchange -ay {old_vg} "
                f"&& lvm pvcreate -ff -y {pv} && lvm vgcreate -y -s {vol.extent_bytes // 1024}k "
                f"{shell([vol.vg_name, pv])}")
        for lv in vol.lvs:
            size = f"-L {lv.new_size_bytes // 1024}k" if lv.new_size_bytes else "-l 100%FREE"
            self.sh(f"lvm lvcreate -y -W y -Z y {size} -n {shell([lv.name, vol.vg_name])}")
        rest = vol.new_size_bytes - sum(lv.new_size_bytes for lv in vol.lvs)  # ~ 100%FREE
        for lv in vol.lvs:
            self._recreate(lv.fs, f"/dev/{old_vg}/{lv.name}", f"/dev/{vol.vg_name}/{lv.name}",
                           lv.new_size_bytes or rest)

    def _recreate(self, fs: str, old: str, new: str, size_bytes: int) -> None:
        """Make the filesystem anew and copy the files, or copy the volume byte for byte."""
        self.settle()
        if fs == "swap":
            tags = self._blkid(old)
            self.sh(shell(swap_mkfs(tags.get("UUID", ""), tags.get("LABEL", ""), new)))
        elif fs.startswith("ext"):
            self.sh(shell(ext_mkfs(self.sh(f"dumpe2fs -h {old} 2>/dev/null"), new,
                                   size_bytes)))
            self._copy_files(old, new, "")
        elif fs == "xfs":
            info = self.sh(f"xfs_db -r -c info -c uuid -c label {old}")
            small = XFS_SMALL_ENV if size_bytes < XFS_SMALL_BYTES else ""
            self.sh(small + shell(xfs_mkfs(info, new)))
            self._copy_files(old, new, "nouuid")
        elif fs == "btrfs":
            self._btrfs(old, new)
        else:
            self.sh(f"dd if={old} of={new} bs=4M conv=sparse,fsync status=none")

    def _blkid(self, device: str) -> dict[str, str]:
        out = self.sh(f"blkid -o export {device} || true")
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def _copy_files(self, old: str, new: str, options: str) -> None:
        """cp -a from the old filesystem to the new one; notes whether it is / or /boot."""
        opts = f"-o {options} " if options else ""
        found = self.sh(
            f"mount {opts}{old} {SRC} && mount {opts}{new} {DST} && "
            f"cp -a --sparse=auto {SRC}/. {DST}/ && "
            f"{{ test -e {DST}/etc/fstab && echo REHOST-ROOT; "
            f"test -d {DST}/grub && echo REHOST-BOOT; true; }}; "
            f"umount {DST} && umount {SRC}")
        if "REHOST-ROOT" in found:
            self.root = self._api_name(new)
        elif "REHOST-BOOT" in found:
            self.boot = self._api_name(new)

    def _btrfs(self, old: str, new: str) -> None:
        """A btrfs made anew like the old one, its subvolumes recreated with their IDs, the
        files copied, then the read-only flags and the default subvolume set as they were."""
        dump_super = self.sh(f"btrfs inspect-internal dump-super {old}")
        # the old one (the working copy's) takes another fsid, in its superblock only:
        # mkfs.btrfs refuses a UUID a visible device holds, and the kernel would take two
        # devices of one fsid for one filesystem
        self.sh(f"btrfstune -m {old} && btrfs device scan --forget")
        self.sh(f"mount -o subvolid=5 {old} {SRC}")
        made = btrfs_mkfs(dump_super, self.sh(f"btrfs filesystem df {SRC}"), new)
        subvolumes = parse_subvolumes(self.sh(f"btrfs subvolume list {SRC}"))
        readonly = parse_subvolumes(self.sh(f"btrfs subvolume list -r {SRC}"))
        default = _default_id(self.sh(f"btrfs subvolume get-default {SRC}"))
        self.sh(shell(made.argv))
        self.sh(f"mount -o {made.mount_options} {new} {DST}")
        script, fillers = subvolume_script(subvolumes, DST)
        self.sh(script)
        got = [s for s in parse_subvolumes(self.sh(f"btrfs subvolume list {DST}"))
               if not s.path.startswith(FILLER)]
        if got != subvolumes:
            old_ids, new_ids = _ids(subvolumes), _ids(got)
            raise RebuildError(f"btrfs {new}: the subvolumes could not keep their IDs "
                               f"(old {old_ids}, new {new_ids})",
                               f"btrfs {new}：子卷未能保留原 ID（原 {old_ids}，新 {new_ids}）")
        if fillers:
            self.sh(shell(["btrfs", "-q", "subvolume", "delete", *fillers]))
        self.sh(f"cp -a --sparse=auto {SRC}/. {DST}/")
        for sub in readonly:
            self.sh(shell(["btrfs", "property", "set", "-ts", f"{DST}/{sub.path}", "ro", "true"]))
        if default != TOP_SUBVOLUME:
            self.sh(f"btrfs subvolume set-default {default} {DST}")
        self._btrfs_root(new, subvolumes, default)
        self.sh(f"btrfs subvolume sync {DST} && umount {DST} && umount {SRC}")

    def _btrfs_root(self, new: str, subvolumes: list[Subvolume], default: int) -> None:
        """Note the subvolume holding /etc/fstab (the default one first) as the root."""
        tops = {s.id: f"{DST}/{s.path}" for s in subvolumes} | {TOP_SUBVOLUME: DST}
        order = dict.fromkeys([default, TOP_SUBVOLUME, *tops])
        found = self.sh("; ".join(f"test -e {shell([f'{tops[i]}/etc/fstab'])} && "
                                  f"echo REHOST-ROOT={i}" for i in order if i in tops) + "; true")
        ids = [int(line.split("=", 1)[1]) for line in found.splitlines()
               if line.startswith("REHOST-ROOT=")]
        if ids:
            self.root = self._api_name(new)
            self.root_options = f"subvolid={ids[0]}" if ids[0] != TOP_SUBVOLUME else ""

    def _bootloader(self) -> None:
        """The guest's grub-install on the new disk, then its grub.cfg regenerated."""
        if self.root_options:
            self.guest.run("mount-options", self.root_options, self.root, "/")
        else:
            self.guest.run("mount", self.root, "/")
        if self.boot:
            self.guest.run("mount", self.boot, "/boot")
        tools = self.guest.programs(["grub-install", "grub-mkconfig"])
        if "grub-install" not in tools:
            return  # no GRUB in the guest: the boot code was copied byte for byte
        # the guest's tools keep their run-time files (LVM's locks, ...) in tmpfs, as on a boot
        scratch = [d for d in ("/run", "/tmp")
                   if self.guest.run("is-dir", d, ok=True).strip() == "true"]
        for d in scratch:
            self.sh(f"mount -t tmpfs rehost-scratch /sysroot{d}")
        self.guest.sh(f"grub-install --target=i386-pc /dev/{self.kernel['sdb']}")
        if "grub-mkconfig" in tools and self.guest.read("/boot/grub/grub.cfg") is not None:
            self.guest.sh("grub-mkconfig -o /boot/grub/grub.cfg")
        for d in reversed(scratch):
            self.sh(f"umount /sysroot{d}")
        self.guest.run("umount-all")


def _ids(subvolumes: list[Subvolume]) -> str:
    """"256 @, 257 @home" for an error message."""
    return ", ".join(f"{s.id} {s.path}" for s in subvolumes)


def _default_id(text: str) -> int:
    """The ID get-default printed ("ID 256 gen 9 top level 5 path @", "ID 5 (FS_TREE)")."""
    words = text.split()
    if len(words) < 2 or words[0] != "ID" or not words[1].isdigit():
        raise RebuildError(f"cannot read the default btrfs subvolume ({text.strip()[:200]})",
                           f"无法读取 btrfs 的默认子卷（{text.strip()[:200]}）")
    return int(words[1])


__all__ = ["RebuildError", "rebuild_disk"]
