"""An incremental job through real processes: cycles 2 and 3 (the cut-over) send only the
changed cells, and the cut-over ends the job Finished with its final image."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from diskfactory import MIB, BuiltDisk, PartSpec, compare_disks, e2fsck_all, make_disk
from e2e.harness import Server, run_cli
from rehost.client import ClientError

CELL = 4 * MIB
FRAME_SLACK = 1 * MIB  # frame headers, HELLOs with cell digests, TLS records


def _source(directory: Path) -> BuiltDisk:
    """1 GiB MBR disk: ext2 boot, an 8 MiB partition of unknown type (sent whole), ext4 root."""
    parts = (PartSpec(fs="ext2", size_mib=16, files_bytes=MIB, label="boot"),
             PartSpec(fs="unknown", size_mib=8),
             PartSpec(fs="ext4", size_mib=128, files_bytes=64 * MIB, os_release=True,
                      label="root"))
    return make_disk(directory, name="incremental.img", size_mib=1024, table="mbr", parts=parts,
                     seed=5)


def _file_block(disk: BuiltDisk) -> int:
    """Disk offset of the first 4 KiB of a root file whose bytes occur exactly once."""
    root = disk.partitions[2]
    data = disk.path.read_bytes()[root.start_bytes : root.start_bytes + root.size_bytes]
    for content in root.files.values():
        head = content[:4096]
        if len(head) == 4096 and data.count(head) == 1:
            return root.start_bytes + data.index(head)
    raise AssertionError("no file block found to change")


def _change(disk: BuiltDisk) -> list[tuple[int, int]]:
    """Overwrite bytes in the unknown partition (2 cells) and inside one ext4 file block."""
    raw = disk.partitions[1]
    changes = [(raw.start_bytes + 4096, 20_000), (raw.start_bytes + 6 * MIB, 3000),
               (_file_block(disk), 4096)]
    with disk.path.open("r+b") as f:
        for offset, length in changes:
            f.seek(offset)
            f.write(os.urandom(length))
    return changes


def _assert_image(source: BuiltDisk, image: Path) -> None:
    assert image.stat().st_size == source.size_bytes
    assert compare_disks(source, image) == []
    results = e2fsck_all(source, image)
    assert results and all(code == 0 for code, _ in results.values()), results


def _cells(changes: list[tuple[int, int]]) -> int:
    return len({o // CELL for offset, n in changes for o in (offset, offset + n - 1)})


def test_incremental_cycle_two_sends_only_changes(
    start_server: Callable[..., Server], tmp_path: Path,
) -> None:
    source = _source(tmp_path / "disk")
    server = start_server(relay=True)
    assert server.relay is not None
    agent = server.import_agent(tmp_path / "agent", system_disk=source.path)
    agent.start()
    created = json.loads(run_cli(
        "job", "create", "--source", agent.source_id, "--region", "local",
        "--system-disk-size", "1", "--mode", "immediate", "--incremental", "--frequency", "24",
        "--max-images", "1", "--output", "json", env=server.cli_env))
    job_id = str(created["job_id"])
    assert (created["run_once"], created["frequency"], created["max_number_of_image_to_keep"]) \
        == (False, 24, 1)
    first = server.wait_job(job_id, {"Waiting"}, timeout_s=180)
    assert first["cycle"] == 1 and first["transit_id"] and first["next_cycle_time"]
    image1 = str(first["image_id"])
    _assert_image(source, server.image_disks(image1)[0])
    wire1 = server.relay.up_bytes

    changes = _change(source)
    started = json.loads(run_cli("job", "start", job_id, "--output", "json",
                                 env=server.cli_env))
    assert started["status"] == "Running" and started["cycle"] == 2
    assert started["transit_id"] == first["transit_id"]
    second = server.wait_job(job_id, {"Waiting"}, timeout_s=180)
    wire2 = server.relay.up_bytes - wire1
    image2 = str(second["image_id"])
    assert second["cycle"] == 2 and image2 != image1
    _assert_image(source, server.image_disks(image2)[0])
    assert wire2 <= _cells(changes) * CELL + FRAME_SLACK, (wire2, wire1)
    assert wire2 * 5 < wire1, (wire2, wire1)
    print(f"cycle 1: {wire1} wire bytes; cycle 2: {wire2} ({_cells(changes)} changed cells)")
    with pytest.raises(ClientError):
        server.client.get_image(image1)  # max_images_to_keep=1: image 1 is gone
    assert not server.image_disks(image2)[0].parent.with_name(image1).exists()
    assert "ReplicationJob.Waiting" in server.events_text(job_id)

    # cut-over with SyncData: a third, last delta cycle, then Finished with the final image
    changes = _change(source)
    wire_before = server.relay.up_bytes
    cut = json.loads(run_cli("job", "cutover", job_id, "--sync-data", "--output", "json",
                             env=server.cli_env))
    assert cut["status"] == "Running" and cut["cycle"] == 3
    final = server.wait_job(job_id, {"Finished"}, timeout_s=180)
    wire3 = server.relay.up_bytes - wire_before
    assert final["cycle"] == 3 and not final["transit_id"] and not final["next_cycle_time"]
    image3 = str(final["image_id"])
    assert image3 not in (image1, image2)
    _assert_image(source, server.image_disks(image3)[0])
    assert wire3 <= _cells(changes) * CELL + FRAME_SLACK, (wire3, wire1)
    print(f"cut-over cycle 3: {wire3} wire bytes")
