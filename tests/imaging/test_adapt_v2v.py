"""The virt-v2v engine: its command line, its output turned into job-log Changes, its failures
as Adapt.Failed (a real virt-v2v-in-place run on a small guest it cannot convert)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imaging.test_adapt_guestfs import _guest_disk
from rehost.imaging.adapt import AdaptOptions, adapt_linux_guest
from rehost.imaging.adapt_v2v import changes_of, domain_xml, v2v_command
from rehost.imaging.guestfish import GuestfishError

OUTPUT = """[   0.0] Setting up the source: -i disk /w/build/disk-0.raw
[   1.2] Opening the source
[  25.9] Inspecting the source
[  40.1] Checking for sufficient free disk space in the guest
[  40.2] Converting Debian GNU/Linux 12 (bookworm) to run on KVM
virt-v2v-in-place: This guest has virtio drivers installed.
[ 180.3] Finishing off
"""


def test_one_disk_is_converted_with_i_disk_and_several_with_a_libvirt_xml(tmp_path: Path) -> None:
    one = v2v_command([tmp_path / "disk-0.raw"], tmp_path / "guest.xml")
    assert one == ["virt-v2v-in-place", "-i", "disk", "-if", "raw", str(tmp_path / "disk-0.raw")]
    assert not (tmp_path / "guest.xml").exists()
    two = v2v_command([tmp_path / "disk-0.raw", tmp_path / "d'1.raw"], tmp_path / "guest.xml")
    assert two == ["virt-v2v-in-place", "-i", "libvirtxml", str(tmp_path / "guest.xml")]
    xml = (tmp_path / "guest.xml").read_text()
    assert xml == domain_xml([tmp_path / "disk-0.raw", tmp_path / "d'1.raw"])
    assert xml.index("disk-0.raw") < xml.index("d'1.raw")  # quoteattr chose "…" quotes
    assert "dev='sda'" in xml and "dev='sdb'" in xml


def test_the_conversion_is_a_change_and_every_other_line_a_note() -> None:
    changes, notes = changes_of(OUTPUT)
    assert [c.message_en for c in changes] == [
        "virt-v2v-in-place: Converting Debian GNU/Linux 12 (bookworm) to run on KVM"]
    assert len(notes) == 6 and all(n.code == "Adapt.V2v" and not n.changed for n in notes)
    assert "virt-v2v-in-place: This guest has virtio drivers installed." in [
        n.message_en for n in notes]
    assert all(n.message_zh.startswith("virt-v2v-in-place：") for n in (*changes, *notes))


def test_the_virt_v2v_engine_leaves_the_initramfs_to_it_and_unknown_engines_are_refused() -> None:
    names = [s.__name__ for s in AdaptOptions(engine="virt-v2v").steps()]
    assert "add_virtio_drivers" not in names and "fstab_by_uuid" in names
    assert "add_virtio_drivers" in [s.__name__ for s in AdaptOptions().steps()]
    with pytest.raises(GuestfishError, match="unknown adaptation engine 'v2v'") as err:
        adapt_linux_guest([], log=lambda c: None, options=AdaptOptions(engine="v2v"))
    assert err.value.code == "Adapt.Failed" and "适配引擎" in err.value.message_zh


@pytest.mark.slow
@pytest.mark.qemu
def test_a_guest_virt_v2v_cannot_convert_fails_adapt_failed_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert shutil.which("virt-v2v-in-place"), "install Debian's virt-v2v package"
    monkeypatch.setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    disk = _guest_disk(tmp_path)  # a Debian tree without dpkg's database or any kernel
    with pytest.raises(GuestfishError) as err:
        adapt_linux_guest([disk], log=lambda c: None, options=AdaptOptions(engine="virt-v2v"))
    assert err.value.code == "Adapt.Failed"
    assert "virt-v2v-in-place failed" in err.value.message_en
    # it got as far as inspecting the guest (nbdkit, the appliance worked) and says what it missed
    assert "Inspecting the source" in err.value.message_en
    assert "/var/lib/dpkg/status" in err.value.message_en
    assert "virt-v2v-in-place 执行失败" in err.value.message_zh
    print(err.value.message_en)
