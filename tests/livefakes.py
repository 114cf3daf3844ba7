"""Fakes for the live-copy tests: a sysfs tree in a directory, a scripted command runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rehost.agent.command import CommandError

SECTOR = 512


def block_node(path: Path, *, dev: str, size_sectors: int, start: int | None = None,
               dm_name: str = "", dm_uuid: str = "", holders: Sequence[str] = ()) -> Path:
    """One /sys/class/block entry (a partition when start is given)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "dev").write_text(dev + "\n")
    (path / "size").write_text(f"{size_sectors}\n")
    if start is not None:
        (path / "partition").write_text("1\n")
        (path / "start").write_text(f"{start}\n")
    if dm_name:
        (path / "dm").mkdir()
        (path / "dm/name").write_text(dm_name + "\n")
        (path / "dm/uuid").write_text(dm_uuid + "\n")
    (path / "holders").mkdir(exist_ok=True)
    for holder in holders:
        (path / "holders" / holder).mkdir()
    return path


def lvm_sysfs(root: Path) -> Path:
    """sda (1 GiB): sda1 /boot (200 MiB), sda2 a PV holding dm-0 (vg0-root) and dm-1 (swap);
    loop7 for a saved metadata area, loop8 over the whole disk. Returns sda's directory."""
    sda = block_node(root / "class/block/sda", dev="8:0", size_sectors=2097152)
    block_node(sda / "sda1", dev="8:1", size_sectors=409600, start=2048)
    block_node(sda / "sda2", dev="8:2", size_sectors=1685504, start=411648,
               holders=("dm-0", "dm-1"))
    block_node(root / "class/block/dm-0", dev="253:0", size_sectors=1048576,
               dm_name="vg0-root", dm_uuid="LVM-abcdef")
    block_node(root / "class/block/dm-1", dev="253:1", size_sectors=262144,
               dm_name="vg0-swap", dm_uuid="LVM-ghijkl")
    block_node(root / "class/block/loop7", dev="7:7", size_sectors=2048)
    block_node(root / "class/block/loop8", dev="7:8", size_sectors=2097152)
    return sda


class ScriptedRunner:
    """Answers commands by their first words; records every call (and dm tables created)."""

    def __init__(self, answers: dict[str, str | Callable[[Sequence[str]], str]]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []
        self.tables: dict[str, str] = {}

    def __call__(self, argv: Sequence[str]) -> str:
        self.calls.append(list(argv))
        if argv[:2] == ["dmsetup", "create"]:
            self.tables[argv[-2]] = Path(argv[-1]).read_text()
        for prefix in sorted(self.answers, key=len, reverse=True):
            if " ".join(argv).startswith(prefix):
                answer = self.answers[prefix]
                return answer(argv) if callable(answer) else answer
        raise CommandError(argv, "command not scripted")

    def ran(self, prefix: str) -> list[list[str]]:
        """The calls starting with prefix."""
        return [c for c in self.calls if " ".join(c).startswith(prefix)]


class FakeFreezer:
    """Records freezes and thaws; optionally fails or runs a hook on freeze."""

    def __init__(self, *, on_freeze: Callable[[str], None] | None = None,
                 fail_on: str = "") -> None:
        self.events: list[tuple[str, str]] = []
        self.on_freeze, self.fail_on = on_freeze, fail_on

    def freeze(self, mount_point: str) -> None:
        if mount_point == self.fail_on:
            raise OSError(95, "Operation not supported")
        self.events.append(("freeze", mount_point))
        if self.on_freeze is not None:
            self.on_freeze(mount_point)

    def thaw(self, mount_point: str) -> None:
        self.events.append(("thaw", mount_point))

    def guardian(self, mount_points: Sequence[str], limit_s: float) -> None:
        """Nothing is really frozen: no guardian process."""
        return None

    def frozen_now(self) -> set[str]:
        """Mount points frozen and not thawed since."""
        state: dict[str, bool] = {}
        for event, point in self.events:
            state[point] = event == "freeze"
        return {p for p, f in state.items() if f}
