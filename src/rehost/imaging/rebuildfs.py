"""The mkfs command lines that recreate a filesystem with the same type, UUID, label, features.

Pure: they read what `dumpe2fs -h` and `xfs_db -r -c info -c uuid -c label` printed for the
old filesystem (inside the libguestfs appliance) and return the argv to run there.
"""

from __future__ import annotations

import re
import shlex

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
