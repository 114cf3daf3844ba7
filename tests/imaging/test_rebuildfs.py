"""The mkfs lines of the file-level rebuild recreate a filesystem's UUID, label and features."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from diskfactory import blank_file, run
from rehost.imaging.rebuildfs import RebuildError, ext_mkfs, swap_mkfs, xfs_mkfs

MIB = 1 << 20


def _ext_features(dump: str) -> str:
    return next(line for line in dump.splitlines() if line.startswith("Filesystem features"))


def test_ext4_recreated_with_the_same_uuid_label_and_features(tmp_path: Path) -> None:
    old = blank_file(tmp_path / "old.fs", 64 * MIB)
    run("mkfs.ext4", "-q", "-F", "-L", "root fs", "-O", "^metadata_csum,quota", "-I", "128",
         old)
    dump = run("dumpe2fs", "-h", old)
    new = blank_file(tmp_path / "new.fs", 48 * MIB)
    argv = ext_mkfs(dump, str(new))
    run(*argv)
    again = run("dumpe2fs", "-h", new)
    for field in ("Filesystem UUID", "Filesystem volume name", "Inode size", "Block size"):
        pick = [line for line in dump.splitlines() if line.startswith(field)]
        assert pick and pick[0] in again, field
    assert _ext_features(again) == _ext_features(dump)
    assert "needs_recovery" not in " ".join(argv)


def test_xfs_recreated_with_the_same_uuid_label_and_features(tmp_path: Path) -> None:
    old = blank_file(tmp_path / "old.fs", 320 * MIB)
    run("mkfs.xfs", "-q", "-f", "-L", "rootxfs", "-m", "reflink=0,bigtime=1", old)
    info = run("xfs_db", "-r", "-c", "info", "-c", "uuid", "-c", "label", old)
    new = blank_file(tmp_path / "new.fs", 300 * MIB)
    argv = xfs_mkfs(info, str(new))
    run(*argv)
    again = run("xfs_db", "-r", "-c", "info", "-c", "uuid", "-c", "label", new)
    for key in ("UUID = ", 'label = "rootxfs"', "reflink=0", "bigtime=1", "crc=1"):
        line = next(x for x in info.splitlines() if key in x)
        assert key in again, (key, line)
    assert info.split("UUID = ")[1][:36] == again.split("UUID = ")[1][:36]


def test_unreadable_geometry_is_a_bilingual_rebuild_error() -> None:
    with pytest.raises(RebuildError) as caught:
        ext_mkfs("dumpe2fs: Bad magic number in super-block", "/dev/sdb1")
    assert "/dev/sdb1" in caught.value.message_en and "/dev/sdb1" in caught.value.message_zh
    with pytest.raises(RebuildError):
        xfs_mkfs("xfs_db: /dev/sdb2 is not a valid XFS filesystem", "/dev/sdb2")


def test_swap_keeps_its_uuid_and_label() -> None:
    assert swap_mkfs("0b3c-uuid", "swp", "/dev/sdb3") == [
        "mkswap", "-f", "-U", "0b3c-uuid", "-L", "swp", "/dev/sdb3"]
    assert swap_mkfs("", "", "/dev/sdb3") == ["mkswap", "-f", "/dev/sdb3"]


DUMP = """Filesystem volume name:   <none>
Filesystem UUID:          5a3f1c2e-0d7b-4c1e-9a55-3b8f0e6d2c11
Filesystem features:      has_journal ext_attr resize_inode dir_index filetype extent 64bit
Inode count:              {count}
Free inodes:              {free}
Block size:               4096
Inode size:               256
"""


def test_a_filesystem_of_many_small_files_gets_the_inodes_they_need() -> None:
    # 1 GiB gets about 65,536 inodes by default: 60,000 files with a quarter to spare do not fit
    many = DUMP.format(count=262144, free=202144)
    argv = ext_mkfs(many, "/dev/sdb2", 1 << 30)
    assert argv[argv.index("-N") + 1] == str(60000 * 5 // 4 + 1024)
    few = DUMP.format(count=262144, free=232144)  # 30,000 files: the default holds them
    assert "-N" not in ext_mkfs(few, "/dev/sdb2", 1 << 30)
    assert "-N" not in ext_mkfs(many, "/dev/sdb2")  # no size given: mke2fs decides


def test_the_inode_count_given_is_what_mke2fs_makes(tmp_path: Path) -> None:
    old = blank_file(tmp_path / "old.fs", 64 * MIB)
    run("mkfs.ext4", "-q", "-F", "-N", "60000", old)
    # as if 40,000 files were on it (mke2fs's default for 48 MiB is about 12,000 inodes)
    dump = re.sub(r"^Free inodes:.*$", "Free inodes: 20000", run("dumpe2fs", "-h", old),
                  flags=re.MULTILINE)
    new = blank_file(tmp_path / "new.fs", 48 * MIB)
    argv = ext_mkfs(dump, str(new), 48 * MIB)
    run(*argv)
    count = next(int(line.split()[-1]) for line in run("dumpe2fs", "-h", new).splitlines()
                 if line.startswith("Inode count"))
    assert count >= (59968 - 20000) * 5 // 4, (argv, count)
