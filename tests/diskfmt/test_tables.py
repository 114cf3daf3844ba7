"""MBR and GPT parsing against sfdisk's own view of the same images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diskfactory import run
from rehost.diskfmt import DiskFormatError
from rehost.diskfmt.partitions import read_partition_table
from rehost.diskfmt.reader import FileDisk
from rehost.diskfmt.table import PartitionTable

MIB = 1 << 20


def _make(tmp_path: Path, script: str, size_mib: int = 64) -> Path:
    img = tmp_path / "t.img"
    run("truncate", "-s", f"{size_mib}M", img)
    run("sfdisk", "-q", img, stdin=script)
    return img


def _read(img: Path) -> PartitionTable:
    with FileDisk(img) as disk:
        return read_partition_table(disk)


def _sfdisk(img: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads(run("sfdisk", "-J", img))["partitiontable"]
    return doc


def test_mbr_with_logical_partitions_matches_sfdisk(tmp_path: Path) -> None:
    img = _make(tmp_path, "label: dos\nsize=8MiB, type=83, bootable\nsize=8MiB, type=da\n"
                "type=5\nsize=8MiB, type=83\nsize=8MiB, type=82\ntype=83\n")
    table = _read(img)
    expected = _sfdisk(img)["partitions"]
    assert table.kind == "mbr"
    assert isinstance(expected, list)
    got = [(p.number, p.start_bytes, p.size_bytes, int(p.type_code, 16)) for p in table.partitions]
    want = [(int(e["node"].removeprefix(str(img))), e["start"] * 512, e["size"] * 512,
             int(e["type"], 16)) for e in expected]
    assert got == want
    assert [p.number for p in table.partitions if p.is_logical] == [5, 6, 7]
    assert [p.number for p in table.data_partitions] == [1, 2, 5, 6, 7]
    assert table.disk_id == str(_sfdisk(img)["id"])


def test_gpt_matches_sfdisk_including_names_and_uuids(tmp_path: Path) -> None:
    img = _make(tmp_path, 'label: gpt\nsize=8MiB, type=uefi, name="EFI system"\n'
                'size=4MiB, type=swap\ntype=linux, name="根 root"\n')
    table = _read(img)
    doc = _sfdisk(img)
    expected = doc["partitions"]
    assert isinstance(expected, list)
    assert table.kind == "gpt" and table.disk_id == doc["id"] and not table.notes
    got = [(p.start_bytes, p.size_bytes, p.type_code, p.uuid, p.name) for p in table.partitions]
    want = [(e["start"] * 512, e["size"] * 512, e["type"], e["uuid"], e.get("name", ""))
            for e in expected]
    assert got == want
    assert table.partitions[0].is_efi_system


def _corrupt(img: Path, offset: int) -> None:
    with img.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_gpt_damaged_primary_header_falls_back_to_backup(tmp_path: Path) -> None:
    img = _make(tmp_path, "label: gpt\nsize=8MiB, type=linux\ntype=linux\n")
    before = _read(img)
    _corrupt(img, 512 + 40)  # first usable LBA: header CRC no longer matches
    after = _read(img)
    assert after.partitions == before.partitions
    assert any("CRC" in n for n in after.notes)


def test_gpt_damaged_entries_in_both_copies_is_an_error(tmp_path: Path) -> None:
    img = _make(tmp_path, "label: gpt\ntype=linux\n")
    _corrupt(img, 1024 + 32)  # primary entries
    size = img.stat().st_size
    _corrupt(img, size - 33 * 512 + 32)  # backup entries
    with pytest.raises(DiskFormatError, match="CRC"):
        _read(img)


def test_blank_disk_has_no_table(tmp_path: Path) -> None:
    img = tmp_path / "blank.img"
    run("truncate", "-s", "8M", img)
    assert _read(img).kind == "none"


def test_empty_dos_label_is_mbr_without_partitions(tmp_path: Path) -> None:
    img = _make(tmp_path, "label: dos\n", size_mib=8)
    table = _read(img)
    assert table.kind == "mbr" and table.partitions == ()

