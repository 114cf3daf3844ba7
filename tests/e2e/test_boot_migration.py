"""Migrated images boot: real server + agent processes, real QEMU boots via `rehost image verify`.

BIOS/MBR with its data disk, grown, in a region that verifies every image; UEFI/GPT without a
data disk, shrunk to the inventory's minimum rounded up to whole GiB; then the BIOS image's boot
area is zeroed and verification fails fast with a clear reason that the job's log shows.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rehost.sample import BootDisk, DataDisk, build_boot_disk, build_data_disk, expected_marker
from rehost.sample import missing_tools as sample_missing_tools
from rehost.sample.stack import LocalStack, start_stack

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.xdist_group("boot")]
GIB = 1024**3
MIB = 1024**2
JOB_TIMEOUT_S = 240.0
BOOT_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One `rehost server` for the module, plus a region that boot-verifies every image."""
    missing = sample_missing_tools() + [t for t in ("qemu-system-x86_64",) if not shutil.which(t)]
    assert not missing, f"missing tools {missing}: run scripts/install-system-deps.sh test"
    root = tmp_path_factory.mktemp("boot-stack")
    running = start_stack(root / "run")
    try:
        running.json("region", "create", "verified", "--verify", "--image-store",
                      str(root / "run" / "server" / "verified-images"))
        yield running
    finally:
        running.stop()


def migrate(stack: LocalStack, name: str, *, system: Path, data: Path | None,
            job_args: list[str]) -> dict[str, Any]:
    """Import the disks as a source, run its agent, run one immediate job to Finished."""
    state = stack.root / name
    source_id = stack.import_source(state, system=system, data=data, name=name)
    stack.start_agent(state)
    job = stack.json("job", "create", "--source", source_id, "--mode", "immediate",
                     "--image-name", name, *job_args)
    doc = stack.wait_job(str(job["job_id"]), timeout_s=JOB_TIMEOUT_S)
    assert doc["status"] == "Finished", (doc, stack.logs_tail())
    return doc


def verify(stack: LocalStack, image_id: str) -> tuple[int, dict[str, Any]]:
    """`rehost image verify --output json`: exit code and document."""
    done = stack.run("image", "verify", image_id, "--timeout", str(BOOT_TIMEOUT_S), "--output",
                     "json", check=False, timeout_s=BOOT_TIMEOUT_S + 60)
    return done.returncode, json.loads(done.stdout)


def image_disk_sizes(stack: LocalStack, image_id: str) -> dict[int, int]:
    """Disk index -> size in the image's manifest."""
    image = stack.json("image", "describe", image_id)
    return {d["index"]: d["size_bytes"] for d in image["manifest"]["disks"]}


def event_codes(stack: LocalStack, job_id: str) -> list[str]:
    """The codes of a job's log events."""
    return [e["code"] for e in stack.json("job", "logs", job_id)["events"]]


@pytest.fixture(scope="module")
def bios_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[BootDisk, DataDisk]:
    """A 1 GiB BIOS/MBR sample disk and a 64 MiB data disk."""
    root = tmp_path_factory.mktemp("bios-sample")
    return (build_boot_disk(root / "system.img", boot_mode="BIOS", size_bytes=GIB),
            build_data_disk(root / "data.img", size_bytes=64 * MIB))


@pytest.fixture(scope="module")
def bios_job(stack: LocalStack, bios_sample: tuple[BootDisk, DataDisk]) -> dict[str, Any]:
    """The BIOS sample + data disk migrated into the verifying region, system disk 1 -> 2 GiB."""
    system, data = bios_sample
    return migrate(stack, "bios-grow", system=system.path, data=data.path,
                   job_args=["--region", "verified", "--system-disk-size", "2",
                             "--data-disk", "1:1"])


def test_bios_mbr_with_data_disk_grown_boots(
    stack: LocalStack, bios_sample: tuple[BootDisk, DataDisk], bios_job: dict[str, Any]
) -> None:
    system, data = bios_sample
    image_id = bios_job["image_id"]
    assert image_disk_sizes(stack, image_id) == {0: 2 * GIB, 1: GIB}
    # the region verified the image while the job built it
    assert "Image.Verified" in event_codes(stack, bios_job["job_id"])
    assert stack.json("image", "describe", image_id)["verify_result"].startswith("passed")
    code, doc = verify(stack, image_id)
    assert code == 0 and doc["passed"], doc
    assert doc["boot_mode"] == "BIOS"
    assert doc["matched_line"] == expected_marker(system, data)  # data tree hash equal inside
    assert Path(doc["log_path"]).is_file()
    assert (Path(doc["log_path"]).parent / "verify.json").is_file()


def test_uefi_gpt_shrunk_to_minimum_boots(stack: LocalStack, tmp_path: Path) -> None:
    system = build_boot_disk(tmp_path / "system.img", boot_mode="UEFI", size_bytes=2 * GIB)
    state = stack.root / "uefi-probe"
    source_id = stack.import_source(state, system=system.path, name="uefi-probe")
    min_bytes = stack.json("source", "describe", source_id)["disks"][0]["min_size_bytes"]
    target_gib = -(-min_bytes // GIB)
    assert target_gib * GIB < system.size_bytes, min_bytes  # a real shrink
    doc = migrate(stack, "uefi-shrink", system=system.path, data=None,
                  job_args=["--region", "local", "--system-disk-size", str(target_gib)])
    assert image_disk_sizes(stack, doc["image_id"]) == {0: target_gib * GIB}
    code, result = verify(stack, doc["image_id"])
    assert code == 0 and result["passed"], result
    assert result["boot_mode"] == "UEFI"
    assert result["matched_line"] == expected_marker(system)


def test_zeroed_boot_area_fails_fast_and_the_job_shows_it(
    stack: LocalStack, bios_job: dict[str, Any]
) -> None:
    image_id = bios_job["image_id"]
    image = stack.json("image", "describe", image_id)
    regions = stack.json("region", "list")["regions"]
    store = next(r["image_store_path"] for r in regions if r["region_id"] == image["region_id"])
    disk = Path(store) / image_id / "disk-0.raw"
    with disk.open("r+b") as handle:  # MBR boot code, partition table and the gap after it
        handle.write(b"\0" * MIB)
    code, doc = verify(stack, image_id)
    assert code == 1 and not doc["passed"], doc
    assert doc["duration_s"] < 20, doc
    assert "boot" in doc["reason"].lower() and doc["reason_zh"], doc
    assert stack.json("image", "describe", image_id)["verify_result"].startswith("failed")
    assert "Image.VerifyFailed" in event_codes(stack, bios_job["job_id"])
    human = stack.run("image", "verify", image_id, "--timeout", "60", check=False)
    assert human.returncode == 1 and "FAIL" in human.stdout and "失败" in human.stdout
