"""The virtio overlay on real kernel modules: this host's Debian kernel (linux-image-amd64).

An initramfs-tools-like initramfs is built from the host kernel's SATA modules and indexed by
depmod; the overlay appends virtio to it; the result is unpacked as the kernel would (archives
in order, later files win) and kmod's own modprobe resolves the drivers and their aliases
through the regenerated .bin indexes.
"""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kernelfiles import host_kernel, sata_initramfs
from rehost.imaging.initramfs import read_initramfs, read_members
from rehost.imaging.initramfs_overlay import (
    OverlayUnavailable,
    overlay_initramfs,
)
from rehost.imaging.newc import Entry, dir_entry, file_entry, write_newc

VIRTIO_BLK_ALIAS = "virtio:d00000002v00001AF4"
VIRTIO_PCI_ALIAS = "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00"


@pytest.fixture(scope="module")
def kernel() -> Path:
    return host_kernel()


def _unpack(blob: bytes, into: Path) -> None:
    """What the kernel does with an initramfs: every archive in order, later entries win."""
    for member in read_members(blob, lambda _name: True):
        target = into / member.name
        if member.kind == 0o040000:
            target.mkdir(parents=True, exist_ok=True)
        elif member.kind == 0o120000:
            if target.is_symlink() or target.exists():
                target.unlink()
            target.symlink_to(member.data.decode())
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(member.data)


def _modprobe(root: Path, version: str, *args: str) -> str:
    return subprocess.run(["modprobe", "-d", str(root), "-S", version, *args],
                          capture_output=True, text=True, check=True).stdout


def _overlay(kernel: Path, blob: bytes) -> tuple[bytes, tuple[str, ...]]:
    result = overlay_initramfs(
        blob, kernel.name, guest_dep=(kernel / "modules.dep").read_text(),
        guest_builtin=(kernel / "modules.builtin").read_text(),
        fetch_all=lambda rels: [(kernel / r).read_bytes() if (kernel / r).exists() else None
                                for r in rels])
    return result.blob, result.modules


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_virtio_appended_to_a_sata_only_initramfs_resolves_through_kmod(
        kernel: Path, tmp_path: Path, kind: str) -> None:
    compress: Callable[[bytes], bytes] = (
        (lambda d: gzip.compress(d, 1)) if kind == "gzip" else
        (lambda d: subprocess.run(["zstd", "-q", "-c"], input=d, capture_output=True,
                                  check=True).stdout))
    original = sata_initramfs(kernel, tmp_path, compress=compress)
    assert not read_initramfs(original).has_driver("virtio_blk")
    blob, added = _overlay(kernel, original)
    assert blob.startswith(original)  # nothing of the original archives is rewritten
    assert {"virtio_blk", "virtio_pci", "virtio_scsi"} <= set(added)
    contents = read_initramfs(blob)
    assert all(contents.has_driver(d) for d in ("virtio_pci", "virtio_blk", "virtio_scsi"))
    root = tmp_path / "unpacked"
    _unpack(blob, root)
    assert (root / "lib").is_symlink()  # merged /usr kept: no directory replaced the link
    version = kernel.name
    blk = _modprobe(root, version, "--show-depends", "virtio_blk")
    assert "virtio_blk.ko" in blk and "virtio_ring.ko" in blk, blk
    assert "ahci.ko" in _modprobe(root, version, "--show-depends", "ahci")  # old ones kept
    assert _modprobe(root, version, "-R", VIRTIO_BLK_ALIAS).split() == ["virtio_blk"]
    assert "virtio_pci" in _modprobe(root, version, "-R", VIRTIO_PCI_ALIAS).split()
    conf = (root / "conf" / "modules").read_text().split()
    assert conf[0] == "ahci" and {"virtio_pci", "virtio_blk", "virtio_scsi"} <= set(conf)


def test_an_initramfs_with_virtio_is_not_overlaid(kernel: Path, tmp_path: Path) -> None:
    blob, _added = _overlay(kernel, sata_initramfs(kernel, tmp_path,
                                                    compress=lambda d: gzip.compress(d, 1)))
    with pytest.raises(OverlayUnavailable, match="already has the virtio modules"):
        _overlay(kernel, blob)


def test_a_guest_kernel_without_virtio_blk_is_refused_by_name(kernel: Path,
                                                              tmp_path: Path) -> None:
    blob = sata_initramfs(kernel, tmp_path, compress=lambda d: gzip.compress(d, 1))
    dep = "\n".join(line for line in (kernel / "modules.dep").read_text().splitlines()
                    if "virtio_blk" not in line)
    with pytest.raises(OverlayUnavailable, match="no module file for virtio_blk") as caught:
        overlay_initramfs(blob, kernel.name, guest_dep=dep, guest_builtin="",
                          fetch_all=lambda rels: [(kernel / r).read_bytes() for r in rels])
    assert "virtio_blk" in caught.value.message_zh


def test_a_module_the_guest_lists_but_lacks_is_refused(kernel: Path, tmp_path: Path) -> None:
    blob = sata_initramfs(kernel, tmp_path, compress=lambda d: gzip.compress(d, 1))
    with pytest.raises(OverlayUnavailable, match="which is missing"):
        overlay_initramfs(blob, kernel.name, guest_dep=(kernel / "modules.dep").read_text(),
                          guest_builtin="", fetch_all=lambda rels: [None for _ in rels])


def test_a_module_directory_that_is_a_symlink_is_refused(kernel: Path, tmp_path: Path) -> None:
    """The kernel's unpacker would replace the link with a directory: refuse instead."""
    version = kernel.name
    tree = f"usr/lib/modules/{version}"
    blob = write_newc([dir_entry("usr"), dir_entry("usr/lib"), dir_entry("usr/lib/modules"),
                       dir_entry(tree), file_entry(f"{tree}/modules.dep", b""),
                       Entry(f"{tree}/kernel", 0o120777, b"/elsewhere"),
                       file_entry("init", b"#!/bin/sh\n")])
    with pytest.raises(OverlayUnavailable, match="is not a directory"):
        overlay_initramfs(blob, version, guest_dep=(kernel / "modules.dep").read_text(),
                          guest_builtin="",
                          fetch_all=lambda rels: [(kernel / r).read_bytes() for r in rels])


def test_no_depmod_on_this_host_is_a_named_reason(kernel: Path, tmp_path: Path) -> None:
    blob = sata_initramfs(kernel, tmp_path, compress=lambda d: gzip.compress(d, 1))
    with pytest.raises(OverlayUnavailable, match="depmod could not run"):
        overlay_initramfs(blob, kernel.name, guest_dep=(kernel / "modules.dep").read_text(),
                          guest_builtin="",
                          fetch_all=lambda rels: [(kernel / r).read_bytes() for r in rels],
                          depmod=str(tmp_path / "no-such-depmod"))
