"""LV kinds the plan copies whole (thin pools, snapshots, stripes, other disks), on VG values."""

from __future__ import annotations

from rehost.diskfmt.lvm import LogicalVolume, PvInfo, Segment, VolumeGroup
from rehost.diskfmt.lvmap import PvOnDisk, _vg_free
from rehost.diskfmt.lvmtext import parse_metadata, vg_section
from rehost.diskfmt.reader import DiskReader

MIB = 1 << 20
EXTENT = 4 * MIB


class _Zeros:
    size_bytes = 1 << 30

    def read_at(self, offset: int, length: int) -> bytes:
        return bytes(length)


def _lv(name: str, kind: str, stripes: list[tuple[str, int]], *, visible: bool = True,
        count: int = 2) -> LogicalVolume:
    return LogicalVolume(name, visible, [Segment(0, count, kind, stripes, 128)])


def _free(lvs: list[LogicalVolume]) -> tuple[list[tuple[int, int]], list[str]]:
    pvs = {"pv0": PvInfo("pv0", "A" * 32, 2048, 20), "pv1": PvInfo("pv1", "B" * 32, 2048, 20)}
    vg = VolumeGroup("vg", 1, EXTENT, pvs, lvs)
    on_disk = {"A" * 32: PvOnDisk("partition 2 (LVM2_member)", MIB, 81 * MIB)}
    seen: list[str] = []

    def fs_free(reader: DiskReader, label: str, notes: list[str]) -> list[tuple[int, int]]:
        seen.append(label)
        return []

    notes: list[str] = []
    free = _vg_free(vg, on_disk, fs_free, _Zeros(), notes)
    return free, notes + [f"planned {s}" for s in seen]


def test_only_linear_visible_lvs_on_this_disk_are_planned() -> None:
    free, notes = _free([
        _lv("root", "striped", [("pv0", 0)]),
        _lv("pool_tdata", "striped", [("pv0", 2)], visible=False),
        _lv("pool", "thin-pool", []),
        _lv("wide", "striped", [("pv0", 4), ("pv1", 0)], count=4),
        _lv("far", "striped", [("pv1", 4)]),
        _lv("snap", "snapshot", []),
    ])
    assert notes == [
        "LV vg/pool_tdata: internal LV (thin pool data/metadata, snapshot store, mirror or RAID "
        "leg); its extents copied whole",
        "LV vg/pool: segment type thin-pool is not read by rehost; its extents copied whole",
        "LV vg/wide: striped over several PVs; its extents copied whole",
        "LV vg/far: has extents on a PV of another disk; its extents copied whole",
        "LV vg/snap: segment type snapshot is not read by rehost; its extents copied whole",
        "planned LV vg/root",
    ]
    pe0 = 2 * MIB  # partition at 1 MiB, pe_start 2048 sectors
    # extents 0-5 are allocated on pv0 (root, pool_tdata, wide's half); 6-19 and the tail free
    assert free == [(pe0 + 6 * EXTENT, 82 * MIB)]


def test_metadata_text_with_comments_escapes_and_nesting() -> None:
    text = ('# comment\nvg0 {\nid = "x"\nseqno = 7\nextent_size = 8192\n'
            'tags = ["a\\"b", "c"]\nphysical_volumes {\npv0 {\nid = "AAA"\npe_start = 2048\n'
            'pe_count = 4\n}\n}\n}\ncontents = "Text Format Volume Group"\nversion = 1\n')
    name, vg = vg_section(parse_metadata(text))
    assert name == "vg0" and vg["seqno"] == 7 and vg["tags"] == ['a"b', "c"]
    assert vg["physical_volumes"]["pv0"]["pe_count"] == 4
