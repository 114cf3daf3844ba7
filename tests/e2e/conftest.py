"""E2E fixtures: servers closed after each test, process logs shown when a test fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from diskfactory import MIB, BuiltDisk, PartSpec, make_disk
from e2e import harness


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Attach the tails of every process log to a failed e2e test's report."""
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed and call.when in ("call", "setup") and harness._ALL:
        report.sections.append(("e2e process logs", harness.logs_text()))


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., harness.Server]]:
    """Factory: start a `rehost server` in tmp_path (kwargs → harness.Server); closed after."""
    servers: list[harness.Server] = []

    def start(name: str = "srv", **kwargs: Any) -> harness.Server:
        server = harness.Server(tmp_path / name, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()
    harness._ALL.clear()


GIB_MIB = 1024


def _system_disk(directory: Path, table: str, root_files: int, root_mib: int) -> BuiltDisk:
    """A 1 GiB system disk (so the image keeps its size): boot/ESP, unknown, ext4 root, hole."""
    first = PartSpec(fs="vfat", size_mib=16) if table == "gpt" else PartSpec(
        fs="ext2", size_mib=16, files_bytes=MIB, label="boot")
    parts = (first, PartSpec(fs="unknown", size_mib=8),
             PartSpec(fs="ext4", size_mib=root_mib, files_bytes=root_files, os_release=True,
                      label="root"))
    return make_disk(directory, name=f"{table}-system.img", size_mib=GIB_MIB, table=table,  # type: ignore[arg-type]
                     parts=parts, seed=3)


@pytest.fixture(scope="session")
def e2e_mbr_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    """1 GiB MBR disk: ext2 boot, unknown random partition, 64 MiB ext4 root (stale free space)."""
    return _system_disk(tmp_path_factory.mktemp("e2e-mbr"), "mbr", 8 * MIB, 64)


@pytest.fixture(scope="session")
def e2e_gpt_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    """1 GiB GPT disk: ESP, unknown random partition, 64 MiB ext4 root (stale free space)."""
    return _system_disk(tmp_path_factory.mktemp("e2e-gpt"), "gpt", 8 * MIB, 64)


@pytest.fixture(scope="session")
def e2e_data_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    """1 GiB GPT data disk with a 48 MiB ext4 partition (stale free space)."""
    spec = PartSpec(fs="ext4", size_mib=48, files_bytes=6 * MIB, label="data")
    return make_disk(tmp_path_factory.mktemp("e2e-data"), name="data.img", size_mib=GIB_MIB,
                     table="gpt", parts=(spec,), seed=7)


@pytest.fixture(scope="session")
def e2e_big_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    """1 GiB GPT disk with about 200 MiB to send (> 3 in-flight windows) for fault tests."""
    return _system_disk(tmp_path_factory.mktemp("e2e-big"), "gpt", 190 * MIB, 400)
