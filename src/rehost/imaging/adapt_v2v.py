"""The virt-v2v engine: virt-v2v-in-place converts the working copy (Debian package virt-v2v).

virt-v2v-in-place installs the virtio drivers into the initramfs, fixes the boot loader and
removes other hypervisors' tools with its own rules; what it prints (one "[ seconds ] step"
line per step, warnings prefixed with its name) becomes Changes in the job log. rehost's own
steps then run as for its own engine, but for the initramfs (virt-v2v's job): fstab by UUID,
serial console, network, which virt-v2v leaves alone for Linux guests.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from rehost.imaging.adapt_steps import Change
from rehost.imaging.guestfish import COMMAND_TIMEOUT_S, GuestfishError

VIRT_V2V = "virt-v2v-in-place"
STEP_LINE = re.compile(r"^\[\s*[\d.]+\]\s+(.+?)\s*$")
WARNING_LINE = re.compile(r"^virt-v2v(?:-in-place)?:\s*(.+?)\s*$")
CONVERTING = re.compile(r"^Converting .+ to run on KVM$")


def v2v_command(disk_paths: Sequence[Path], xml_path: Path) -> list[str]:
    """-i disk for one disk; -i libvirtxml (written to xml_path) for several."""
    if len(disk_paths) == 1:
        return [VIRT_V2V, "-i", "disk", "-if", "raw", str(disk_paths[0])]
    xml_path.write_text(domain_xml(disk_paths))
    return [VIRT_V2V, "-i", "libvirtxml", str(xml_path)]


def domain_xml(disk_paths: Sequence[Path]) -> str:
    """The minimal libvirt XML virt-v2v documents for -i libvirtxml, disks in guest order."""
    disks = "".join(
        f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file={quoteattr(str(path))}/><target dev='sd{chr(ord('a') + i)}' "
        "bus='sata'/></disk>" for i, path in enumerate(disk_paths))
    return ("<domain type='kvm'><name>rehost-guest</name><memory>1048576</memory>"
            f"<os><type>hvm</type></os><devices>{disks}</devices></domain>\n")


def changes_of(output: str) -> tuple[list[Change], list[Change]]:
    """virt-v2v's output as (changes, notes): the conversion step is a change, the rest notes."""
    changes: list[Change] = []
    notes: list[Change] = []
    for line in output.splitlines():
        step = STEP_LINE.match(line)
        warning = WARNING_LINE.match(line) if step is None else None
        text = step.group(1) if step is not None else warning.group(1) if warning else ""
        if not text:
            continue
        item = Change("Adapt.V2v", f"virt-v2v-in-place: {text}", f"virt-v2v-in-place：{text}",
                      changed=bool(CONVERTING.match(text)))
        (changes if item.changed else notes).append(item)
    return changes, notes


def run_virt_v2v(disk_paths: Sequence[Path], *,
                 log: Callable[[Change], None]) -> tuple[list[Change], list[Change]]:
    """Convert the guest on the disks in place; Adapt.Failed when virt-v2v fails or is absent."""
    env = {**os.environ, "LIBGUESTFS_BACKEND": os.environ.get("LIBGUESTFS_BACKEND", "direct")}
    with tempfile.TemporaryDirectory(prefix="rehost-v2v-") as tmp:
        command = v2v_command(disk_paths, Path(tmp) / "guest.xml")
        output = _run(command, env)
    changes, notes = changes_of(output)
    for item in (*changes, *notes):
        log(item)
    return changes, notes


def _run(command: list[str], env: dict[str, str]) -> str:
    """Run virt-v2v-in-place in its own process group (a timeout kills its appliance too)."""
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", env=env, start_new_session=True)
    except OSError as exc:
        raise GuestfishError(
            f"cannot run {VIRT_V2V}: {exc}; install Debian's virt-v2v package or set the "
            "region's adapt_engine to rehost",
            f"无法运行 {VIRT_V2V}：{exc}；请安装 Debian 的 virt-v2v 软件包，或将地域的 "
            "adapt_engine 设为 rehost") from exc
    try:
        output, _ = proc.communicate(timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise GuestfishError(f"{VIRT_V2V} did not finish in {COMMAND_TIMEOUT_S:.0f} s",
                             f"{VIRT_V2V} 未在 {COMMAND_TIMEOUT_S:.0f} 秒内完成") from exc
    if proc.returncode != 0:
        detail = output.strip()[-600:]
        raise GuestfishError(f"{VIRT_V2V} failed (exit {proc.returncode}): {detail}",
                             f"{VIRT_V2V} 执行失败（退出码 {proc.returncode}）：{detail}")
    return output
