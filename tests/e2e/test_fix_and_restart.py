"""A source that fails a hard check, fixed on the source, then started again: only the cells
that changed are sent (issue 11, Done-when 3). Real server, agent, relay and sample disks.

1. The kernel is removed from the sample disk's boot partition: InError `Check.Kernel`.
2. The MBR boot code is zeroed: InError `Check.Bootloader`.
Each time the job says what to do in English and Chinese; after the fix on the source disk,
`rehost job start` reads the source again, the transit compares cell digests with what it
kept, the job log reports the bytes re-sent (`Transit.DeltaSent`) and the relay proves that
only a small fraction of the disk crossed the wire; the image then carries the fix.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.faultkit import start_agent
from e2e.harness import Server, run_cli
from rehost.sample import BOOT_PART_BYTES, MiB, build_boot_disk
from rehost.sample import missing_tools as sample_missing_tools

pytestmark = pytest.mark.slow
FAT = f"@@{1 * MiB}"  # mtools: the boot partition (FAT) starts at 1 MiB
BOOT_CODE_BYTES = 440
FILLER_BYTES = 48 * MiB  # data that stays the same: a full re-send would send it again


def _fat(disk: Path, tool: str, *args: str) -> str:
    """An mtools command on the disk's boot partition."""
    return subprocess.run([tool, "-i", f"{disk}{FAT}", *args], check=True,
                          capture_output=True, text=True).stdout


def _kernel_name(disk: Path) -> str:
    names = _fat(disk, "mdir", "-b", "::/").split()
    return next(n.strip("/").removeprefix("::") for n in names
                if re.search(r"vmlinuz-", n))


def _remove_kernel(disk: Path, keep: Path) -> Callable[[], None]:
    """Delete the kernel from the boot partition; returns the fix (put it back)."""
    name = _kernel_name(disk)
    _fat(disk, "mcopy", f"::/{name}", str(keep))
    _fat(disk, "mdel", f"::/{name}")

    def put_back() -> None:
        _fat(disk, "mcopy", str(keep), f"::/{name}")

    return put_back


def _zero_boot_code(disk: Path) -> Callable[[], None]:
    """Zero the MBR boot code (the partition table stays); returns the fix."""
    with disk.open("r+b") as f:
        saved = f.read(BOOT_CODE_BYTES)
        f.seek(0)
        f.write(bytes(BOOT_CODE_BYTES))

    def restore() -> None:
        with disk.open("r+b") as f:
            f.write(saved)

    return restore


def _delta_sent(server: Server, job_id: str) -> int:
    lines = [e["message"] for e in server.events(job_id) if e["code"] == "Transit.DeltaSent"]
    assert len(lines) == 1, lines
    return int(re.search(r": (\d+) bytes re-sent", lines[0]).group(1))  # type: ignore[union-attr]


def _fail_then_fix(server: Server, disk: Path, break_it: Callable[[], Callable[[], None]],
                   code: str, name: str) -> tuple[dict[str, Any], int, int]:
    """Migrate the broken disk (InError code), fix it, start: (Finished doc, wire bytes of the
    first run, wire bytes of the restart)."""
    assert server.relay is not None
    fix = break_it()
    agent = start_agent(server, server.import_agent(disk.parent / f"agent-{name}",
                                                    system_disk=disk))
    before = server.relay.up_bytes
    job_id = server.create_job(agent.source_id, image_name=f"fixed-{name}")
    failed = server.wait_job(job_id, {"InError"}, timeout_s=180)
    first = server.relay.up_bytes - before
    assert failed["error_code"] == code, failed
    assert "未通过" in failed["error_message"] and "start the job again" in failed["error_hint"]
    assert "修复迁移源" in failed["error_hint_zh"]
    fix()
    started = json.loads(run_cli("job", "start", job_id, "--output", "json", env=server.cli_env))
    assert started["status"] == "Running" and started["cycle"] == 2
    done = server.wait_job(job_id, {"Finished"}, timeout_s=180)
    agent.stop()
    return done, first, server.relay.up_bytes - before - first


def test_fixed_source_restarts_with_a_delta_pass(
    start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    missing = sample_missing_tools()
    assert not missing, f"missing tools {missing}: run scripts/install-system-deps.sh test"
    server = start_server(env={"REHOST_LOCAL_ACCEPT_FAILED_CHECKS": "0"}, relay=True)
    cases = (("kernel", "Check.Kernel"), ("boot", "Check.Bootloader"))
    for name, code in cases:
        disk = tmp_path / name / "system.img"
        disk.parent.mkdir()
        build_boot_disk(disk, boot_mode="BIOS", filler_bytes=FILLER_BYTES)
        breakers = {"kernel": lambda d=disk: _remove_kernel(d, d.with_name("vmlinuz.kept")),
                    "boot": lambda d=disk: _zero_boot_code(d)}
        done, first, again = _fail_then_fix(server, disk, breakers[name], code, name)
        resent = _delta_sent(server, str(done["job_id"]))
        size = disk.stat().st_size
        print(f"{name}: first run {first} wire bytes, restart {again} wire bytes, "
              f"{resent} bytes re-sent of a {size}-byte disk")
        assert 0 < resent < size // 10 and again < size // 10
        assert again < first // 2  # the unchanged filler (and the rest) was not sent again
        image = server.image_disks(str(done["image_id"]))[0]
        with disk.open("rb") as a, image.open("rb") as b:  # the fix is in the image
            assert a.read(BOOT_CODE_BYTES) == b.read(BOOT_CODE_BYTES)  # (the table grew)
            a.seek(MiB)
            b.seek(MiB)
            assert a.read(BOOT_PART_BYTES) == b.read(BOOT_PART_BYTES)  # boot partition
        codes = [e["code"] for e in server.events(str(done["job_id"]))]
        assert "ReplicationJob.DeltaPass" in codes and codes.count("Image.Building") == 2
