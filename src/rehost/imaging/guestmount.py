"""Where a Linux guest's filesystems mount, found by one script in the libguestfs appliance.

libguestfs' `inspect-os` answers the same question but costs 7 s under TCG (plus 2 s for
`list-filesystems`); this probe costs under a second: one shell script run by the appliance (not
the guest) lists every filesystem of the guest's disks with blkid, mounts each ext/XFS/btrfs one
read-only without journal replay, and prints any `/etc/fstab` it finds at its top (or one
directory down: btrfs subvolumes such as `@`). The root is the filesystem whose fstab mounts
itself at `/`; the fstab then says where the others go. A guest the probe finds no Linux root in
(Windows, an unknown layout) is left to libguestfs' inspection.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from rehost.imaging.fstab import lv_name, parse_fstab, tagged
from rehost.imaging.guestedit import appliance_device

MOUNTABLE = ("ext2", "ext3", "ext4", "xfs", "btrfs", "vfat")
PROBED = {"ext2": "ro,noload", "ext3": "ro,noload", "ext4": "ro,noload", "xfs": "ro,norecovery",
          "btrfs": "ro"}
TAGS = ("TYPE", "UUID", "LABEL", "PARTUUID", "PARTLABEL")


@dataclass(frozen=True, slots=True)
class ProbedFs:
    """One filesystem the appliance sees: its device and blkid tags."""

    device: str
    tags: dict[str, str]

    @property
    def fs(self) -> str:
        """blkid's TYPE."""
        return self.tags.get("TYPE", "")


@dataclass(frozen=True, slots=True)
class FoundRoot:
    """A filesystem holding etc/fstab: device, the subvolume it sits in ("" = top), the fstab."""

    device: str
    subvol: str
    fstab: str


@dataclass(frozen=True, slots=True)
class MountStep:
    """One guestfish mount: device at mountpoint, with options ("" = defaults)."""

    device: str
    mountpoint: str
    options: str = ""


def probe_script(disks: Sequence[str]) -> str:
    """The appliance script: DEV lines (device + blkid tags) and ROOT lines + base64 fstab.

    Only devices on the guest's disks (libguestfs' list-devices) and device-mapper LVs are
    looked at, never the appliance's own disk.
    """
    allowed = " ".join(shlex.quote(d) for d in disks)
    tags = "\\|".join(TAGS)
    mount_opts = " ".join(f"{fs}) o={opts} ;;" for fs, opts in PROBED.items())
    return f"""mkdir -p /tmp/rehost-probe
udevadm settle 2>/dev/null
for dev in $(awk 'NR > 2 && $4 !~ /^dm-/ {{print "/dev/" $4}}' /proc/partitions) /dev/mapper/*; do
  [ -b "$dev" ] || continue
  ok=; for d in {allowed}; do case "$dev" in "$d"*) ok=1 ;; esac; done
  case "$dev" in /dev/mapper/*) ok=1 ;; esac
  [ -n "$ok" ] || continue
  tags=$(blkid -c /dev/null -o export "$dev" | grep '^\\({tags}\\)=' | tr '\\n' ' ')
  echo "DEV $dev $tags"
  fs=$(blkid -c /dev/null -o value -s TYPE "$dev")
  case "$fs" in {mount_opts} *) continue ;; esac
  if mount -o "$o" "$dev" /tmp/rehost-probe 2>/dev/null; then
    for top in /tmp/rehost-probe /tmp/rehost-probe/*; do
      if [ -f "$top/etc/fstab" ] && [ ! -L "$top/etc/fstab" ]; then
        echo "ROOT $dev ${{top#/tmp/rehost-probe}} $(base64 -w0 "$top/etc/fstab")"
      fi
    done
    umount /tmp/rehost-probe
  fi
done
true
"""


def parse_probe(output: str) -> tuple[list[ProbedFs], list[FoundRoot]]:
    """The script's DEV and ROOT lines."""
    devices: list[ProbedFs] = []
    roots: list[FoundRoot] = []
    for line in output.splitlines():
        if line.startswith("DEV "):
            try:
                fields = shlex.split(line[4:])  # blkid -o export escapes spaces in values
            except ValueError:
                fields = line[4:].split()
            if fields:
                tags = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
                devices.append(ProbedFs(fields[0], tags))
        elif line.startswith("ROOT "):
            parts = line[5:].split(" ")
            if len(parts) == 3:
                device, subvol, encoded = parts
            elif len(parts) == 2:
                device, subvol, encoded = parts[0], "", parts[1]
            else:
                continue
            try:
                text = base64.b64decode(encoded).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                continue
            roots.append(FoundRoot(device, subvol.lstrip("/"), text))
    return devices, roots


def mount_plan(devices: Sequence[ProbedFs], roots: Sequence[FoundRoot]) -> list[MountStep] | None:
    """The mounts that make the guest's tree, / first; None when no Linux root was found or
    a filesystem its fstab needs at boot was not seen (never a tree with a hole in it)."""
    root = _pick_root(devices, roots)
    if root is None:
        return None
    plan = [MountStep(root.device, "/", f"subvol={root.subvol}" if root.subvol else "")]
    taken = {"/"}
    for entry in sorted(parse_fstab(root.fstab), key=lambda e: e.mountpoint.count("/")):
        if entry.mountpoint in taken or not entry.mountpoint.startswith("/") \
                or "noauto" in entry.options or "bind" in entry.options:
            continue
        device = resolve(_unescaped(entry.spec), devices)
        if device is None and entry.fstype in MOUNTABLE and not entry.optional:
            return None  # a filesystem the probe did not see: libguestfs' inspection decides
        if device is None or device.fs not in MOUNTABLE:
            continue
        subvol = next((o.split("=", 1)[1] for o in entry.options if o.startswith("subvol=")), "")
        plan.append(MountStep(device.device, _unescaped(entry.mountpoint),
                          f"subvol={subvol.lstrip('/')}" if subvol and device.fs == "btrfs"
                          else ""))
        taken.add(entry.mountpoint)
    return plan


def resolve(spec: str, devices: Sequence[ProbedFs]) -> ProbedFs | None:
    """The filesystem an fstab spec names (UUID=, LABEL=, PARTUUID=, by-*, LV, /dev/sdXN)."""
    spec = tagged(spec)
    if "=" in spec and not spec.startswith("/"):
        tag, value = spec.split("=", 1)
        value = value.strip('"')
        fold = tag in ("UUID", "PARTUUID")
        return next((d for d in devices if _same(d.tags.get(tag, ""), value, fold=fold)), None)
    lv = lv_name(spec)
    if lv is not None:
        vg, name = lv.split("/", 1)
        mapper = f"/dev/mapper/{vg.replace('-', '--')}-{name.replace('-', '--')}"
        return next((d for d in devices if d.device == mapper), None)
    seen = appliance_device(spec) if re.match(r"^/dev/", spec) else None
    return next((d for d in devices if d.device == seen), None)


def _unescaped(field: str) -> str:
    """fstab's octal escapes (\\040 for a space) decoded."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _same(found: str, wanted: str, *, fold: bool) -> bool:
    return bool(found) and (found.lower() == wanted.lower() if fold else found == wanted)


def _pick_root(devices: Sequence[ProbedFs], roots: Sequence[FoundRoot]) -> FoundRoot | None:
    """The root whose fstab mounts its own filesystem at /; else the only candidate."""
    for root in roots:
        own = [e for e in parse_fstab(root.fstab) if e.mountpoint == "/"]
        if any((found := resolve(e.spec, devices)) is not None and found.device == root.device
               for e in own):
            return root
    return roots[0] if len(roots) == 1 else None
