"""volgrow picks the LV to grow from the PV's own metadata (rehost's LVM parser) and never
touches a PV whose metadata it cannot read; images made by pvcreate/vgcreate/lvcreate."""

from __future__ import annotations

from pathlib import Path

import pytest

from fslayouts import make_lvs, partition
from rehost.imaging.layout import ImagePartition
from rehost.imaging.volgrow import grow_inside, last_lv

MIB = 1 << 20


def lvm_disk(tmp_path: Path, lvs: dict[str, int]) -> tuple[Path, tuple[int, int]]:
    """A GPT disk whose one partition is a PV holding the LVs in this order."""
    image = tmp_path / "pv.img"
    (pv,) = partition(image, 64 * MIB, "type=lvm\n")
    make_lvs(image, offset=pv[0], size=pv[1], lvs=lvs)
    return image, pv


@pytest.mark.parametrize(("order", "last"), [(("swap", "root"), "root"),
                                             (("root", "swap"), "swap")])
def test_the_lv_ending_last_on_the_pv_is_the_one_grown(
    tmp_path: Path, order: tuple[str, str], last: str
) -> None:
    image, pv = lvm_disk(tmp_path, {name: 16 * MIB for name in order})
    vg, lv = last_lv(image, pv[0])
    assert vg.startswith("vg") and lv == last


def test_unreadable_lvm_metadata_leaves_the_pv_as_it_is(tmp_path: Path) -> None:
    image, pv = lvm_disk(tmp_path, {"root": 16 * MIB})
    with image.open("r+b") as disk:  # the metadata area's header and text: garbage
        disk.seek(pv[0] + 4096)
        disk.write(b"\xa5" * (64 * 1024))
    before = image.read_bytes()
    part = ImagePartition(1, pv[0], pv[1], "E6D6D379-F507-44C2-A23C-238F2A3DF928",
                          "LVM2_member", "", "")
    growth = grow_inside(image, part)
    assert growth.fs == "LVM2_member" and growth.note.startswith("PV not grown:"), growth
    assert growth.note_zh.startswith("物理卷未扩容："), growth
    assert "metadata" in growth.note, growth
    assert image.read_bytes() == before
