"""The send plan of a 4 GiB disk is computed in well under a second."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from diskfactory import PartSpec, make_disk
from rehost.diskfmt import describe_plan, shrink_limit

MIB = 1 << 20


@pytest.mark.slow
def test_plan_of_a_4_gib_disk_is_fast(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=4096, table="gpt", stale=False,
                     parts=(PartSpec(fs="vfat", size_mib=64),
                            PartSpec(fs="ext4", files_bytes=300 * MIB)))
    started = time.perf_counter()
    plan = describe_plan(disk.path)
    elapsed_s = time.perf_counter() - started
    assert elapsed_s < 1.0
    assert plan.planned_bytes < disk.used_bytes + 80 * MIB
    assert plan.planned_bytes >= disk.used_bytes // 2  # mke2fs punched holes in its journal
    started = time.perf_counter()
    limit = shrink_limit(disk.path)
    assert time.perf_counter() - started < 0.5
    assert limit.min_size_bytes < disk.size_bytes
