"""A btrfs rebuilt file-level: mkfs.btrfs recreates its UUID, label, geometry, features and
profiles; its subvolumes keep their IDs (gaps filled); snapshots keep the filesystem's size.

Made by the real mkfs.btrfs; the subvolume tests mount the image on a loop device (as the
corpus builder does), the rest reads it unmounted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from diskfactory import blank_file, run
from loopmount import mounted
from rehost.diskfmt.btrfs import btrfs_snapshots
from rehost.diskfmt.reader import FileDisk
from rehost.diskfmt.shrink import shrink_limit
from rehost.imaging.rebuildfs import (
    FILLER,
    RebuildError,
    Subvolume,
    btrfs_mkfs,
    parse_subvolumes,
    subvolume_script,
)

MIB = 1 << 20
DF = ("Data, single: total=8.00MiB, used=0.00B\nSystem, DUP: total=8.00MiB, used=16.00KiB\n"
      "Metadata, DUP: total=35.00MiB, used=160.00KiB\nGlobalReserve, single: total=3.75MiB, "
      "used=0.00B\n")
MIXED_DF = "System, single: total=4.00MiB, used=4.00KiB\nData+Metadata, single: total=8MiB\n"


def _super(path: Path) -> dict[str, str]:
    """fsid, label, nodesize, sectorsize, csum_type and the flag lists of dump-super."""
    out: dict[str, str] = {}
    key = ""
    for line in run("btrfs", "inspect-internal", "dump-super", path).splitlines():
        if not line[:1].isspace():
            key, _, value = line.partition("\t")
            out[key] = value.strip()
        elif key:
            out[key] += " " + line.strip()  # a flag list's continuation lines
    keys = ("fsid", "label", "nodesize", "sectorsize", "csum_type", "incompat_flags",
            "compat_ro_flags")
    return {k: out.get(k, "") for k in keys}


def test_btrfs_recreated_with_the_same_uuid_label_geometry_and_features(
    tmp_path: Path,
) -> None:
    old = blank_file(tmp_path / "old.fs", 600 * MIB)
    run("mkfs.btrfs", "-q", "-f", "-L", "root fs", "-n", "32768", "-O", "^no-holes",
         "-R", "^free-space-tree", old)
    dump = run("btrfs", "inspect-internal", "dump-super", old)
    new = blank_file(tmp_path / "new.fs", 400 * MIB)
    made = btrfs_mkfs(dump, DF, str(new))
    run(*made.argv)
    assert _super(new) == _super(old)
    assert "NO_HOLES" not in _super(new)["incompat_flags"]
    assert "FREE_SPACE_TREE" not in _super(new)["compat_ro_flags"]
    assert made.mount_options == "subvolid=5,nospace_cache"


def test_mixed_block_groups_and_compression_are_kept(tmp_path: Path) -> None:
    old = blank_file(tmp_path / "old.fs", 300 * MIB)
    run("mkfs.btrfs", "-q", "-f", "-M", old)
    dump = run("btrfs", "inspect-internal", "dump-super", old)
    made = btrfs_mkfs(dump.replace("NO_HOLES", "NO_HOLES |\n\t\t\t  COMPRESS_ZSTD"), MIXED_DF,
                      "/dev/sdb2")
    assert "-M" in made.argv and made.argv[made.argv.index("-d") + 1] == "single"
    assert "compress=zstd" in made.mount_options.split(",")
    new = blank_file(tmp_path / "new.fs", 300 * MIB)
    run(*btrfs_mkfs(dump, MIXED_DF, str(new)).argv)
    assert "MIXED_GROUPS" in _super(new)["incompat_flags"]


def test_what_is_not_rebuilt_is_a_bilingual_error_naming_the_device(tmp_path: Path) -> None:
    old = blank_file(tmp_path / "old.fs", 300 * MIB)
    run("mkfs.btrfs", "-q", "-f", old)
    dump = run("btrfs", "inspect-internal", "dump-super", old)
    cases = [(dump.replace("NO_HOLES", "NO_HOLES |\n\t\t\t  ZONED"), DF, "ZONED"),
             (dump, DF.replace("Metadata, DUP", "Metadata, RAID1"), "raid1"),
             ("ERROR: bad magic", DF, "dump-super")]
    for text, df, named in cases:
        with pytest.raises(RebuildError) as caught:
            btrfs_mkfs(text, df, "/dev/sdb2")
        assert named in caught.value.message_en and "/dev/sdb2" in caught.value.message_zh


def test_subvolume_listing_is_parsed_with_and_without_parent_uuids() -> None:
    listing = ("ID 256 gen 7 top level 5 parent_uuid -                                    "
               "path @\nID 260 gen 9 top level 256 parent_uuid 12e2345d-1dcb-0247-a0ae-"
               "bb06d144f258 path @/var/lib/my data\nID 257 gen 7 top level 5 path @home\n")
    assert parse_subvolumes(listing) == [Subvolume(256, "@"), Subvolume(257, "@home"),
                                         Subvolume(260, "@/var/lib/my data")]
    assert parse_subvolumes("ERROR: not a btrfs filesystem") == []


def test_subvolumes_are_recreated_with_their_ids_across_gaps(tmp_path: Path) -> None:
    wanted = [Subvolume(256, "@"), Subvolume(259, "@home"), Subvolume(261, "@/srv/nested")]
    image = blank_file(tmp_path / "new.fs", 300 * MIB)
    run("mkfs.btrfs", "-q", "-f", image)
    with mounted(image, tmp_path / "mnt", "loop") as top:
        script, fillers = subvolume_script(wanted, str(top))
        assert [f.rsplit("-", 1)[1] for f in fillers] == ["257", "258", "260"]
        subprocess.run(["sh", "-c", script], check=True)
        run("btrfs", "-q", "subvolume", "delete", *fillers)
        got = parse_subvolumes(run("btrfs", "subvolume", "list", top))
    assert [s for s in got if not s.path.startswith(FILLER)] == wanted


def test_a_btrfs_with_snapshots_keeps_its_size_and_says_why(tmp_path: Path) -> None:
    image = blank_file(tmp_path / "old.fs", 400 * MIB)
    run("mkfs.btrfs", "-q", "-f", image)
    with mounted(image, tmp_path / "mnt", "loop") as top:
        run("btrfs", "-q", "subvolume", "create", top / "@")
        (top / "@" / "data").write_bytes(b"x" * MIB)
    assert btrfs_snapshots_of(image) == []
    plain = shrink_limit(image)
    assert plain.file_level and plain.min_size_bytes < 400 * MIB, plain
    with mounted(image, tmp_path / "mnt", "loop") as top:
        run("btrfs", "-q", "subvolume", "snapshot", "-r", top / "@", top / "@snap")
    assert btrfs_snapshots_of(image) == [257]
    limit = shrink_limit(image)
    assert limit.min_size_bytes == 400 * MIB and "1 snapshot(s)" in limit.shrink_note, limit


def btrfs_snapshots_of(image: Path) -> list[int]:
    with FileDisk(image) as disk:
        return btrfs_snapshots(disk)
