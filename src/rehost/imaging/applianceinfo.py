"""Shell scripts run inside the libguestfs appliance, and parsers of what they print.

Few round trips matter: under TCG each appliance call costs seconds. One script maps the
labelled disks to kernel names and lists every filesystem (blkid) and LV (lvs); one lists the
top of a mounted filesystem (/, /boot, /etc) with file types.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rehost.imaging.volumes import FsVolume

PARTITION = re.compile(r"^/dev/(sd[a-z]+|vd[a-z]+)(\d*)$")
LISTING_SCRIPT = ("cd /sysroot && for f in * boot/* etc/*; do if [ -d \"$f\" ]; then "
                  "echo \"D $f\"; elif [ -f \"$f\" ]; then echo \"F $f\"; fi; done; true")


def wrapped(script: str) -> str:
    """The script as one word (guestfish re-splits quoted arguments): base64, decoded by sh."""
    encoded = base64.b64encode(script.encode()).decode()
    return f"echo {encoded} | base64 -d | sh"


def discovery_script(disk_count: int) -> str:
    """Kernel name of each labelled disk, blkid of every device, and the LVs."""
    names = "; ".join(f"echo DISK {i} $(readlink -f /dev/disk/guestfs/{disk_label(i)})"
                      for i in range(disk_count))
    return (f"{names}; echo BLKID; blkid -c /dev/null -o export; echo LVS; "
            "lvm lvs --noheadings --separator : -o vg_name,lv_name,lv_dm_path,devices "
            "2>/dev/null; true")


def disk_label(index: int) -> str:
    """The libguestfs label of the index-th disk (letters only: digits are refused)."""
    return "rehost" + _letters(index)


def _letters(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa: the name libguestfs gives the index-th added disk."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(ord("a") + rest) + out
    return out


def survey_devices(output: str) -> tuple[list[FsVolume], dict[str, str]]:
    """Volumes (libguestfs names as keys) and each key's kernel device, from the discovery."""
    disks = {m.group(2).removeprefix("/dev/"): int(m.group(1))
             for m in re.finditer(r"^DISK (\d+) (\S+)$", output, re.M)}
    blkid_text, _, lvs_text = output.partition("\nLVS\n")
    lvs = {}
    for row in lvs_text.splitlines():
        fields = row.strip().split(":")
        if len(fields) == 4:
            lvs[fields[2]] = (fields[0], fields[1], fields[3].split("(", 1)[0])
    volumes, kernel = [], {}
    for block in blkid_text.partition("\nBLKID\n")[2].split("\n\n"):
        tags = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        found = _volume(tags, disks, lvs)
        if found is not None:
            volumes.append(found)
            kernel[found.key] = tags["DEVNAME"]
    return sorted(volumes, key=lambda v: (v.disk, v.partition, v.lv)), kernel


def _volume(tags: dict[str, str], disks: dict[str, int],
            lvs: dict[str, tuple[str, str, str]]) -> FsVolume | None:
    """One blkid entry on one of the machine's disks (the appliance's own disk left out)."""
    device, fs = tags.get("DEVNAME", ""), tags.get("TYPE", "")
    uuid, label = tags.get("UUID", ""), tags.get("LABEL", "")
    if not fs:
        return None
    if device in lvs:
        vg, lv, pv = lvs[device]
        where = PARTITION.match(pv)
        if where is None or where.group(1) not in disks:
            return None
        return FsVolume(f"/dev/{vg}/{lv}", disks[where.group(1)], int(where.group(2) or 0), fs,
                      uuid, label, lv=f"{vg}/{lv}")
    match = PARTITION.match(device)
    if match is None or match.group(1) not in disks:
        return None
    index = disks[match.group(1)]
    return FsVolume(f"/dev/sd{_letters(index)}{match.group(2)}", index,
                  int(match.group(2) or 0), fs, uuid, label)


def split_marked(output: str, marker: str, count: int) -> list[str]:
    """The text after each line that is exactly `marker`, up to the next marker line."""
    pieces = re.split(r"^(FSCK|SUBVOLS)$", output, flags=re.M)
    found = [pieces[i + 1] for i in range(1, len(pieces) - 1, 2) if pieces[i] == marker]
    return (found + [""] * count)[:count]


def subvolumes(btrfs: Sequence[FsVolume], listings: Sequence[str]) -> list[FsVolume]:
    """A FsVolume per subvolume of each btrfs (from `btrfs subvolume list` output)."""
    out = []
    for volume, text in zip(btrfs, listings, strict=True):
        for line in text.splitlines():
            if line.startswith("ID ") and " path " in line:
                path = line.split(" path ", 1)[1].strip()
                out.append(FsVolume(f"btrfsvol:{volume.key}/{path}", volume.disk,
                                  volume.partition, volume.fs, volume.uuid, volume.label,
                                  subvol=path))
    return out


@dataclass(frozen=True, slots=True)
class Listing:
    """The top of a filesystem: names in /, /boot and /etc, and which are regular files."""

    dirs: dict[str, set[str]] = field(default_factory=dict)
    files: frozenset[str] = frozenset()

    def covers(self, directory: str) -> bool:
        """True when the listing answers for this directory (listed, or known absent)."""
        return directory in self.dirs or (directory in ("/boot", "/etc") and "/" in self.dirs)


def parse_listing(output: str) -> Listing:
    """Parse LISTING_SCRIPT's "D path" / "F path" lines."""
    dirs: dict[str, set[str]] = {"/": set()}
    files = set()
    for line in output.splitlines():
        kind, _, path = line.partition(" ")
        if kind not in ("D", "F") or not path:
            continue
        parent, _, name = ("/" + path).rpartition("/")
        dirs.setdefault(parent or "/", set()).add(name)
        if kind == "D" and (parent or "/") == "/":
            dirs.setdefault("/" + name, set())
        if kind == "F":
            files.add("/" + path)
    return Listing(dirs, frozenset(files))
