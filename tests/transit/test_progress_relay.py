"""ProgressRelay: a writer's progress report never waits for the control plane, and the control
plane still sees a job's reports in order, the newest last, before the job's sync_done."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from rehost.transit.fake import FakeTransitControl
from rehost.transit.ports import DiskDigest, ReceivedDisk, ReceiverProgress
from rehost.transit.progress_relay import ProgressRelay

WAIT_S = 10.0


class SlowControl(FakeTransitControl):
    """Its first progress report blocks until released (a database lock, a slow network)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[str] = []

    def report_progress(self, progress: ReceiverProgress) -> None:
        self.calls.append(f"progress {progress.job_id} {progress.disks[0].done_bytes}")
        self.entered.set()
        assert self.release.wait(WAIT_S)
        super().report_progress(progress)

    def sync_done(self, job_id: str, digests: tuple[DiskDigest, ...]) -> None:
        self.calls.append(f"done {job_id}")
        super().sync_done(job_id, digests)


def progress(job_id: str, done: int) -> ReceiverProgress:
    return ReceiverProgress(job_id, (ReceivedDisk(0, done, 100),), 1.0)


@pytest.fixture
def control() -> SlowControl:
    return SlowControl()


@pytest.fixture
def relay(control: SlowControl) -> Iterator[ProgressRelay]:
    relay = ProgressRelay(control)
    relay.start()
    yield relay
    control.release.set()
    relay.stop()


def test_a_report_returns_while_the_control_plane_is_stuck(
    relay: ProgressRelay, control: SlowControl,
) -> None:
    relay.report_progress(progress("j1", 10))
    assert control.entered.wait(WAIT_S)  # the relay's thread is inside the slow call
    relay.report_progress(progress("j1", 20))  # returns although the control plane is stuck
    relay.report_progress(progress("j1", 30))
    relay.report_progress(progress("j2", 5))
    assert control.calls == ["progress j1 10"]
    control.release.set()
    relay.stop()
    # 20 was replaced by 30 while waiting: only the newest report of a job is worth sending
    assert control.calls == ["progress j1 10", "progress j1 30", "progress j2 5"]


def test_sync_done_comes_after_the_jobs_waiting_report(
    relay: ProgressRelay, control: SlowControl,
) -> None:
    relay.report_progress(progress("j1", 10))
    assert control.entered.wait(WAIT_S)
    relay.report_progress(progress("j1", 100))
    done = threading.Thread(target=relay.sync_done, args=("j1", ()))
    done.start()
    control.release.set()
    done.join(WAIT_S)
    assert control.calls == ["progress j1 10", "progress j1 100", "done j1"]
    assert control.done == {"j1": ()}


def test_a_failing_report_is_logged_and_the_next_one_still_goes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Refusing(FakeTransitControl):
        def report_progress(self, progress: ReceiverProgress) -> None:
            if progress.disks[0].done_bytes == 1:
                raise RuntimeError("database is locked")
            super().report_progress(progress)

    control = Refusing()
    relay = ProgressRelay(control)
    relay.start()
    relay.report_progress(progress("j1", 1))
    relay.sync_done("j1", ())  # waits for the report in flight, sends none: it was taken
    relay.report_progress(progress("j1", 2))
    relay.stop()
    assert [p.disks[0].done_bytes for p in control.progress] == [2]
    assert "progress of job j1 not reported" in caplog.text


def test_without_its_thread_a_report_is_sent_by_the_caller() -> None:
    control = FakeTransitControl()
    relay = ProgressRelay(control)  # never started (or already stopped)
    relay.report_progress(progress("j1", 7))
    assert [p.disks[0].done_bytes for p in control.progress] == [7]
