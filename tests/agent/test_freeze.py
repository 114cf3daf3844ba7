"""fsfreeze for the catch-up pass: bounded by a watchdog, thawed whatever happens."""

from __future__ import annotations

import threading
import time

import pytest

from livefakes import FakeFreezer
from rehost.agent.freeze import frozen


def test_filesystems_are_frozen_inside_and_thawed_after() -> None:
    freezer = FakeFreezer()
    with frozen(["/", "/srv"], freezer=freezer, limit_s=30) as guard:
        assert freezer.frozen_now() == {"/", "/srv"}
    assert freezer.frozen_now() == set() and not guard.expired.is_set()
    assert freezer.events == [("freeze", "/"), ("freeze", "/srv"), ("thaw", "/srv"),
                              ("thaw", "/")]


def test_an_error_inside_the_freeze_still_thaws() -> None:
    freezer = FakeFreezer()
    with pytest.raises(RuntimeError), frozen(["/srv"], freezer=freezer, limit_s=30):
        raise RuntimeError("send failed")
    assert freezer.frozen_now() == set()


def test_a_freeze_that_fails_thaws_what_was_frozen_before() -> None:
    freezer = FakeFreezer(fail_on="/boot/efi")
    with pytest.raises(OSError), frozen(["/", "/boot/efi"], freezer=freezer, limit_s=30):
        pass
    assert freezer.events == [("freeze", "/"), ("thaw", "/")]


def test_the_watchdog_thaws_when_the_limit_passes_and_says_so() -> None:
    freezer = FakeFreezer()
    called = threading.Event()
    started = time.monotonic()
    with frozen(["/srv"], freezer=freezer, limit_s=0.2, on_expire=called.set) as guard:
        assert called.wait(5)
        assert freezer.frozen_now() == set()  # thawed while the pass still runs
    assert guard.expired.is_set() and 0.2 <= time.monotonic() - started < 5
    assert freezer.events.count(("thaw", "/srv")) == 1  # the exit does not thaw twice

