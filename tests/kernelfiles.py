"""This host's Debian kernel (linux-image-amd64) as a stand-in for a guest's kernel files."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rehost.imaging.initramfs_overlay import module_name, parse_modules_dep
from rehost.imaging.newc import Entry, dir_entry, file_entry, write_newc


def host_kernel() -> Path:
    for tree in sorted(Path("/lib/modules").glob("*")):
        if (tree / "modules.dep").exists() and list(tree.rglob("virtio_blk.ko*")):
            return tree
    pytest.fail("no host kernel with virtio_blk under /lib/modules: install linux-image-amd64 "
                "(scripts/install-system-deps.sh)")


def sata_initramfs(kernel: Path, tmp: Path, *, compress: Callable[[bytes], bytes],
                    drop: tuple[str, ...] = ()) -> bytes:
    """Early microcode cpio + a compressed main archive with ahci/sd_mod, as initramfs-tools."""
    version = kernel.name
    deps = parse_modules_dep((kernel / "modules.dep").read_text())
    wanted = [p for p in deps if module_name(p) in ("ahci", "sd_mod", "ata_piix")]
    closure = set(wanted) | {d for p in wanted for d in deps[p]}
    stage = tmp / "stage" / "lib" / "modules" / version
    for rel in closure:
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_bytes((kernel / rel).read_bytes())
    (stage / "modules.builtin").write_bytes((kernel / "modules.builtin").read_bytes())
    subprocess.run(["depmod", "-b", str(tmp / "stage"), version], check=True)
    tree = f"usr/lib/modules/{version}"
    entries: list[Entry] = [dir_entry("usr"), dir_entry("usr/lib"),
                            Entry("lib", 0o120777, b"usr/lib"), dir_entry("usr/lib/modules"),
                            dir_entry(tree), dir_entry("conf"),
                            file_entry("conf/modules", b"ahci\n"),
                            file_entry("init", b"#!/bin/sh\n", 0o755)]
    for path in sorted(stage.rglob("*")):
        rel = path.relative_to(stage).as_posix()
        if any(rel.endswith(d) for d in drop):
            continue
        entries.append(dir_entry(f"{tree}/{rel}") if path.is_dir()
                       else file_entry(f"{tree}/{rel}", path.read_bytes()))
    early = write_newc([file_entry("kernel/x86/microcode/GenuineIntel.bin", b"\x01" * 512)])
    return early + compress(write_newc(entries))
