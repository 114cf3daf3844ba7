"""The mkfs command lines that recreate a filesystem with the same type, UUID, label, features.

Pure: they read what `dumpe2fs -h`, `xfs_db -r -c info -c uuid -c label` or btrfs's
`inspect-internal dump-super`, `filesystem df` and `subvolume list` printed for the old
filesystem (inside the libguestfs appliance) and return the argv or script to run there.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from rehost.imaging.errors import ImagingError

# state flags dumpe2fs lists among the features; mke2fs cannot set them (and must not)
_EXT_STATE_FLAGS = frozenset({"needs_recovery", "orphan_present", "journal_dev"})
# XFS feature switches mkfs.xfs takes in -m (meta-data) and -i (inode) options
_XFS_META = ("crc", "finobt", "rmapbt", "reflink", "bigtime", "inobtcount")
# mkfs.xfs refuses filesystems under 300 MB unless it runs as the XFS test suite would
XFS_SMALL_ENV = "TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=1 "


class RebuildError(ImagingError):
    """The file-level rebuild could not recreate or copy a volume."""

    code = "Imaging.RebuildFailed"


def _field(text: str, name: str) -> str:
    """The value of one `Name:   value` line of dumpe2fs -h ("" when absent)."""
    match = re.search(rf"^{re.escape(name)}:[ \t]*(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _default_inodes(size_bytes: int) -> int:
    """About how many inodes mke2fs gives a filesystem of this size (Debian's mke2fs.conf)."""
    ratio = (4096 if size_bytes < 512 * (1 << 20) else 16384 if size_bytes < 4 << 40
             else 32768 if size_bytes < 16 << 40 else 65536)
    return size_bytes // ratio


def inodes_needed(dumpe2fs: str, size_bytes: int) -> int:
    """An inode count for the new filesystem when the default would not hold the old one's
    files with a quarter to spare (many small files); 0 when mke2fs's default does."""
    count, free = _field(dumpe2fs, "Inode count"), _field(dumpe2fs, "Free inodes")
    if not (count.isdigit() and free.isdigit()):
        return 0
    need = (int(count) - int(free)) * 5 // 4 + 1024
    return need if need > _default_inodes(size_bytes) else 0


def ext_mkfs(dumpe2fs: str, device: str, size_bytes: int = 0) -> list[str]:
    """mke2fs argv for an ext2/3/4 like the one dumpe2fs -h described (same UUID and features;
    with `size_bytes`, enough inodes for the old one's files)."""
    uuid, features = _field(dumpe2fs, "Filesystem UUID"), _field(dumpe2fs, "Filesystem features")
    block, inode = _field(dumpe2fs, "Block size"), _field(dumpe2fs, "Inode size")
    if not (uuid and features and block.isdigit() and inode.isdigit()):
        raise RebuildError(f"cannot read the ext filesystem's geometry on {device} (dumpe2fs)",
                           f"无法读取 {device} 上 ext 文件系统的参数（dumpe2fs）")
    kept = [f for f in features.split() if f not in _EXT_STATE_FLAGS]
    label = _field(dumpe2fs, "Filesystem volume name")
    argv = ["mke2fs", "-F", "-q", "-b", block, "-I", inode, "-O", ",".join(["none", *kept]),
            "-U", uuid]
    if label and label != "<none>":
        argv += ["-L", label]
    inodes = inodes_needed(dumpe2fs, size_bytes) if size_bytes else 0
    argv += ["-N", str(inodes)] if inodes else []
    return [*argv, device]


def _xfs_value(info: str, key: str) -> str:
    """One `key=value` of xfs_db's info output ("" when absent)."""
    match = re.search(rf"(?<![\w-]){re.escape(key)}=(\S+?),?(?:\s|$)", info)
    return match.group(1) if match else ""


def xfs_mkfs(info: str, device: str) -> list[str]:
    """mkfs.xfs argv for an XFS like the one xfs_db described (same UUID, label and features)."""
    uuid = re.search(r"^UUID = ([0-9a-f-]{36})$", info, re.MULTILINE)
    label = re.search(r'^label = "(.*)"$', info, re.MULTILINE)
    block = re.search(r"^data\s*=\s*bsize=(\d+)", info, re.MULTILINE)
    isize = _xfs_value(info, "isize")
    if uuid is None or block is None or not isize:
        raise RebuildError(f"cannot read the XFS geometry on {device} (xfs_db)",
                           f"无法读取 {device} 上 XFS 文件系统的参数（xfs_db）")
    meta = [f"uuid={uuid.group(1)}"]
    meta += [f"{k}={_xfs_value(info, k)}" for k in _XFS_META if _xfs_value(info, k)]
    inode = [f"size={isize}"] + ([f"sparse={_xfs_value(info, 'sparse')}"]
                                 if _xfs_value(info, "sparse") else [])
    argv = ["mkfs.xfs", "-f", "-q", "-b", f"size={block.group(1)}", "-m", ",".join(meta),
            "-i", ",".join(inode)]
    if _xfs_value(info, "ftype"):
        argv += ["-n", f"ftype={_xfs_value(info, 'ftype')}"]
    if label is not None and label.group(1):
        argv += ["-L", label.group(1)]
    return [*argv, device]


def swap_mkfs(uuid: str, label: str, device: str) -> list[str]:
    """mkswap argv recreating a swap area with its UUID and label."""
    argv = ["mkswap", "-f"] + (["-U", uuid] if uuid else []) + (["-L", label] if label else [])
    return [*argv, device]


def shell(argv: list[str]) -> str:
    """One argv as a /bin/sh command line."""
    return " ".join(shlex.quote(a) for a in argv)


# btrfs feature flags dump-super names -> mkfs.btrfs -O names: each set, or cleared, as the old
# filesystem had it (mkfs's defaults differ between btrfs-progs releases)
_BTRFS_TOGGLES = {"EXTENDED_IREF": "extref", "SKINNY_METADATA": "skinny-metadata",
                  "NO_HOLES": "no-holes"}
# ... and the runtime ones (-R): btrfs-progs 6.2, Debian 12's, takes free-space-tree there only
_BTRFS_RUNTIME = {"FREE_SPACE_TREE": "free-space-tree"}
_BTRFS_ADDED = {"BLOCK_GROUP_TREE": "block-group-tree"}  # set only when the old one had it
_BTRFS_REFUSED = ("ZONED", "RAID1C34", "EXTENT_TREE_V2", "RAID_STRIPE_TREE")
_BTRFS_PROFILES = frozenset({"single", "dup"})
# the mount option that writes the copied files compressed as the old ones were
_BTRFS_COMPRESS = (("COMPRESS_ZSTD", "compress=zstd"), ("COMPRESS_LZO", "compress=lzo"))


@dataclass(frozen=True, slots=True)
class BtrfsMkfs:
    """How a btrfs is made anew like the old one: mkfs argv and the copy's mount options."""

    argv: list[str]
    mount_options: str


def _super_field(dump: str, name: str) -> str:
    """One `name   value` line of `btrfs inspect-internal dump-super` ("" when absent)."""
    match = re.search(rf"^{re.escape(name)}[ \t]+(\S+)", dump, re.MULTILINE)
    return match.group(1) if match else ""


def _super_flags(dump: str) -> set[str]:
    """The names of every flag set in incompat_flags and compat_ro_flags (`( A | B )` lists)."""
    found: set[str] = set()
    for field in ("incompat_flags", "compat_ro_flags"):
        match = re.search(rf"^{field}\s+0x[0-9a-f]+(?:\s*\(([^)]*)\))?", dump, re.MULTILINE)
        if match and match.group(1):
            found.update(f.strip() for f in match.group(1).split("|") if f.strip())
    return found


def _profiles(df: str, device: str) -> tuple[str, str, bool]:
    """(data profile, metadata profile, mixed) from `btrfs filesystem df`."""
    found = dict(re.findall(r"^(Data\+Metadata|Data|Metadata), (\w+):", df, re.MULTILINE))
    mixed = "Data+Metadata" in found
    data = found.get("Data+Metadata" if mixed else "Data", "").lower()
    meta = found.get("Data+Metadata" if mixed else "Metadata", "").lower()
    if data not in _BTRFS_PROFILES or meta not in _BTRFS_PROFILES:
        raise RebuildError(f"btrfs on {device}: profile data={data or '?'} "
                           f"metadata={meta or '?'} is not rebuilt (single or DUP only)",
                           f"{device} 上的 btrfs：不重建数据 {data or '?'}、元数据 "
                           f"{meta or '?'} 的配置（只支持 single 或 DUP）")
    return data, meta, mixed


def btrfs_mkfs(dump_super: str, df: str, device: str) -> BtrfsMkfs:
    """mkfs.btrfs argv for a btrfs like the one dump-super and `filesystem df` described (same
    UUID, label, node and sector size, checksum, features and profiles)."""
    fsid, node = _super_field(dump_super, "fsid"), _super_field(dump_super, "nodesize")
    sector, csum = _super_field(dump_super, "sectorsize"), _super_field(dump_super, "csum_type")
    csum_name = re.search(r"^csum_type\s+\d+\s+\((\w+)\)", dump_super, re.MULTILINE)
    if not (re.fullmatch(r"[0-9a-f-]{36}", fsid) and node.isdigit() and sector.isdigit()
            and csum.isdigit()):
        raise RebuildError(f"cannot read the btrfs geometry on {device} (dump-super)",
                           f"无法读取 {device} 上 btrfs 文件系统的参数（dump-super）")
    flags = _super_flags(dump_super)
    refused = sorted(flags.intersection(_BTRFS_REFUSED))
    if refused:
        raise RebuildError(f"btrfs on {device} uses {', '.join(refused)}: not rebuilt file-level",
                           f"{device} 上的 btrfs 使用 {', '.join(refused)}：不按文件重建")
    data, meta, mixed = _profiles(df, device)
    features = [v if k in flags else f"^{v}" for k, v in _BTRFS_TOGGLES.items()]
    features += [v for k, v in _BTRFS_ADDED.items() if k in flags]
    argv = ["mkfs.btrfs", "-f", "-q", "-U", fsid, "-n", node, "-s", sector, "-d", data,
            "-m", meta, "-O", ",".join(features),
            "-R", ",".join(v if k in flags else f"^{v}" for k, v in _BTRFS_RUNTIME.items())]
    argv += ["--csum", csum_name.group(1)] if csum_name else []
    argv += ["-M"] if mixed else []
    label = re.search(r"^label[ \t]+(.*)$", dump_super, re.MULTILINE)
    if label is not None and label.group(1).strip():
        argv += ["-L", label.group(1).strip()]
    compress = next((opt for flag, opt in _BTRFS_COMPRESS if flag in flags), "")
    # no v1 space cache while copying (a free space tree has none): its inodes would take
    # subvolume IDs
    cache = "" if "FREE_SPACE_TREE" in flags else "nospace_cache"
    options = ",".join(o for o in ("subvolid=5", cache, compress) if o)
    return BtrfsMkfs([*argv, device], options)


@dataclass(frozen=True, slots=True)
class Subvolume:
    """One btrfs subvolume: its ID and path from the top level."""

    id: int
    path: str


def parse_subvolumes(listing: str) -> list[Subvolume]:
    """The subvolumes `btrfs subvolume list` printed (with or without -q), by ID."""
    found = [Subvolume(int(m.group(1)), m.group(2)) for m in re.finditer(
        r"^ID (\d+) gen \d+ top level \d+(?: parent_uuid \S+)?\s+path (.+)$", listing,
        re.MULTILINE)]
    return sorted(found, key=lambda s: s.id)


FIRST_SUBVOLUME_ID = 256
FILLER = ".rehost-id-filler-"  # subvolumes made only to keep the IDs, deleted after


def subvolume_script(subvolumes: list[Subvolume], top: str) -> tuple[str, list[str]]:
    """A script creating the subvolumes under `top` with their old IDs (a new subvolume takes
    the next free ID: the gaps left by deleted ones are filled by subvolumes deleted after,
    so a fstab or boot entry naming subvolid= still finds its subvolume); and the fillers."""
    lines: list[str] = []
    fillers: list[str] = []
    next_id = FIRST_SUBVOLUME_ID
    for sub in subvolumes:
        for filler_id in range(next_id, sub.id):
            fillers.append(f"{top}/{FILLER}{filler_id}")
            lines.append(shell(["btrfs", "-q", "subvolume", "create", fillers[-1]]))
        path = f"{top}/{sub.path}"
        lines.append(shell(["mkdir", "-p", path.rpartition("/")[0]]))
        lines.append(shell(["btrfs", "-q", "subvolume", "create", path]))
        next_id = max(next_id, sub.id + 1)
    return " && ".join(lines) or "true", fillers
