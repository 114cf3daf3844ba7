"""A clean migration of MBR and GPT system disks (+ a data disk) through real processes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from diskfactory import BuiltDisk, compare_disks, e2fsck_all
from e2e.harness import Server

STALE_NOT_SENT_SLACK = 8 * 1024 * 1024  # chunk rounding at extent edges, frames, TLS


def must_send_bytes(disk: BuiltDisk) -> int:
    """What must travel: ext used blocks + whole non-ext partitions + the table area."""
    others = sum(p.size_bytes for p in disk.partitions if not p.fs.startswith("ext"))
    return disk.used_bytes + others + (1 << 20)


def assert_image_matches(source: BuiltDisk, image: Path) -> None:
    """Table, boot area, gaps and allocated ext blocks byte-identical; e2fsck -fn clean."""
    assert image.stat().st_size == source.size_bytes
    assert compare_disks(source, image) == []
    results = e2fsck_all(source, image)
    assert results and all(code == 0 for code, _ in results.values()), results


def migrate(server: Server, tmp_path: Path, system: BuiltDisk,
            data: BuiltDisk | None = None) -> dict[int, Path]:
    """Import, run the agent, create an immediate job, wait Finished; the image's disks."""
    agent = server.import_agent(tmp_path / "agent", system_disk=system.path,
                                data_disks=[data.path] if data else [])
    agent.start()
    job_id = server.create_job(agent.source_id, data_disks=[(1, 1)] if data else ())
    doc = server.wait_job(job_id, {"Finished"}, timeout_s=180)
    assert doc["image_id"] and doc["bytes_done"] == doc["bytes_total"] > 0
    return server.image_disks(doc["image_id"])


def test_mbr_system_and_data_disk_byte_identical(
    start_server: Callable[..., Server], tmp_path: Path, e2e_mbr_disk: BuiltDisk,
    e2e_data_disk: BuiltDisk,
) -> None:
    server = start_server(relay=True)
    disks = migrate(server, tmp_path, e2e_mbr_disk, e2e_data_disk)
    assert sorted(disks) == [0, 1]
    assert_image_matches(e2e_mbr_disk, disks[0])
    assert_image_matches(e2e_data_disk, disks[1])
    assert server.relay is not None
    wire = server.relay.up_bytes
    budget = must_send_bytes(e2e_mbr_disk) + must_send_bytes(e2e_data_disk)
    assert wire <= budget + STALE_NOT_SENT_SLACK  # the stale free space did not travel


@pytest.mark.slow
def test_gpt_system_disk_byte_identical(
    start_server: Callable[..., Server], tmp_path: Path, e2e_gpt_disk: BuiltDisk,
) -> None:
    server = start_server(relay=True)
    disks = migrate(server, tmp_path, e2e_gpt_disk)
    assert sorted(disks) == [0]
    assert_image_matches(e2e_gpt_disk, disks[0])
    assert server.relay is not None
    assert server.relay.up_bytes <= must_send_bytes(e2e_gpt_disk) + STALE_NOT_SENT_SLACK
