"""The final catch-up pass of a live copy, over real TLS into a real transit.

The fake freezer's freeze() plays the writes that happened during the live pass: the files
the source changes before it is frozen. The target must end up equal to the source as it was
frozen, with only the changed cells sent again, and the disk digest must still agree.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from livefakes import FakeFreezer
from rehost.agent.freeze import Freezer
from rehost.agent.sender import send_job
from rehost.agent.sendspec import SendError

from .harness import MIB, same_bytes, transit_rig, whole_file_planner


class FakeLive:
    """A live copy with one frozen volume over the given disk range (None: the whole disk)."""

    def __init__(self, freezer: Freezer, ranges: list[tuple[int, int]] | None,
                 limit_s: float = 30.0) -> None:
        self.freezer, self.ranges, self.freeze_limit_s = freezer, ranges, limit_s

    def freeze_points(self) -> list[str]:
        return ["/srv"]

    def catch_up_ranges(self, index: int) -> list[tuple[int, int]] | None:
        return self.ranges


def _source(path: Path) -> Path:
    rng = random.Random(5)
    with path.open("wb") as f:
        f.write(rng.randbytes(24 * MIB))
    return path


def _writes_during_the_copy(path: Path) -> None:
    rng = random.Random(9)
    with path.open("r+b") as f:
        f.seek(13 * MIB + 4096)
        f.write(rng.randbytes(3 * MIB))  # a file written
        f.seek(20 * MIB)
        f.write(bytes(4 * MIB))  # a file deleted and trimmed: the cell becomes zeros


@pytest.mark.parametrize("checksum", [True, False])
def test_changes_made_before_the_freeze_reach_the_target(tmp_path: Path,
                                                         checksum: bool) -> None:
    src = _source(tmp_path / "src.img")
    freezer = FakeFreezer(on_freeze=lambda _point: _writes_during_the_copy(src))
    live = FakeLive(freezer, [(8 * MIB, 16 * MIB)])
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok-live", [(0, src)], checksum=checksum)
        result = send_job(rig.send_spec("tok-live", [(0, src)]), live=live,
                          planner=whole_file_planner, notes={0: ["volume /srv: frozen"]})
        assert result.completed and rig.control.finished.is_set()
        assert same_bytes(src, rig.target(job, 0))
        stats = rig.pool.stats(job.job_id)
    assert freezer.events == [("freeze", "/srv"), ("thaw", "/srv")]
    assert stats is not None
    # 6 cells in the first pass, then only the 3 changed of the 4 frozen-range cells again
    assert stats.duplicate_bytes == 3 * 4 * MIB
    [done] = rig.control.done[job.job_id]
    assert bool(done.digest_hex) == checksum
    assert rig.control.plan_notes[0] == ("j-test", "disk 0: volume /srv: frozen")


def test_a_pass_past_the_freeze_limit_is_retried_then_fails_clearly(tmp_path: Path) -> None:
    src = _source(tmp_path / "src.img")
    def slow_freeze(_point: str) -> None:
        _writes_during_the_copy(src)
        time.sleep(0.3)  # flushing much dirty data: the limit passes before the pass starts

    freezer = FakeFreezer(on_freeze=slow_freeze)
    live = FakeLive(freezer, None, limit_s=0.1)
    with transit_rig(tmp_path / "transit") as rig:
        rig.add_job("tok-slow", [(0, src)])
        with pytest.raises(SendError) as err:
            send_job(rig.send_spec("tok-slow", [(0, src)]), live=live,
                     planner=whole_file_planner)
        assert not rig.control.finished.is_set()  # the disk is not finished inconsistent
    assert err.value.code == "Agent.FreezeLimit"
    assert "--freeze-limit" in err.value.message and "冻结" in err.value.message
    assert freezer.frozen_now() == set()
    assert [e for e, _ in freezer.events] == ["freeze", "thaw", "freeze", "thaw"]
