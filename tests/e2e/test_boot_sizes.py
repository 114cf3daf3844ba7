"""A job asking for a system disk below the source's minimum is refused at create time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rehost.sample import build_boot_disk
from rehost.sample.stack import LocalStack, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("boot-sizes")]
GIB = 1024**3
FILLER_BYTES = 1000 * 1024**2  # pushes the root's minimum (used + 10 % + 32 MiB) above 1 GiB


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One `rehost server` for the module."""
    running = start_stack(tmp_path_factory.mktemp("sizes-stack") / "run")
    try:
        yield running
    finally:
        running.stop()


def test_system_disk_below_minimum_is_refused_with_the_minimum(
    stack: LocalStack, tmp_path: Path
) -> None:
    system = build_boot_disk(tmp_path / "full.img", boot_mode="BIOS", size_bytes=3 * GIB,
                             filler_bytes=FILLER_BYTES)
    source_id = stack.import_source(tmp_path / "agent", system=system.path, name="full")
    disk = stack.json("source", "describe", source_id)["disks"][0]
    need_gib = -(-disk["min_size_bytes"] // GIB)
    assert disk["min_size_bytes"] > FILLER_BYTES and need_gib >= 2, disk
    refused = stack.run("job", "create", "--source", source_id, "--region", "local",
                        "--system-disk-size", str(need_gib - 1), check=False)
    assert refused.returncode == 1
    assert "InvalidParameter.SystemDiskSize" in refused.stderr, refused.stderr
    assert f"set {need_gib} GiB or more" in refused.stderr, refused.stderr
    accepted = stack.json("job", "create", "--source", source_id, "--region", "local",
                          "--system-disk-size", str(need_gib))
    assert accepted["system_disk_size"] == need_gib and accepted["status"] == "Ready"
