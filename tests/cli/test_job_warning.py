"""`rehost job describe`/`wait` print the accepted-checks warning of a Finished job."""

from __future__ import annotations

from typing import Any

import pytest

from rehost.cli.job_warning import accepted_warning

ACCEPTED = {"time": "2026-12-02T01:00:00Z", "level": "warning", "code": "Check.Accepted",
            "message": "Checks failed (kernel); published anyway.",
            "message_zh": "检查未通过（kernel）；镜像仍会发布。",
            "hint": "Test the image before using it: rehost image verify.",
            "hint_zh": "使用前请先测试镜像：rehost image verify。"}
BUILDING = {"time": "t", "level": "info", "code": "Image.Building", "message": "Building."}


class FakeEvents:
    """The one client call the warning makes, over a fixed event log."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events, self.calls = events, 0

    def job_events(self, job_id: str) -> dict[str, Any]:
        self.calls += 1
        return {"job_id": job_id, "events": self.events}


def _warning(events: list[dict[str, Any]], status: str = "Finished") -> str:
    return accepted_warning(FakeEvents(events), {"job_id": "j-1", "status": status})  # type: ignore[arg-type]


def test_finished_job_with_accepted_checks_gets_a_visible_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    line = _warning([BUILDING, ACCEPTED])
    assert line == ("!! WARNING [Check.Accepted] Checks failed (kernel); published anyway."
                    "  → Test the image before using it: rehost image verify.")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert "检查未通过" in _warning([BUILDING, ACCEPTED]) and "使用前请先测试镜像" in \
        _warning([BUILDING, ACCEPTED])


def test_no_line_unless_the_last_build_of_a_finished_job_accepted_checks() -> None:
    assert _warning([BUILDING]) == ""
    assert _warning([BUILDING, ACCEPTED, BUILDING]) == ""  # an earlier build's warning
    fake = FakeEvents([BUILDING, ACCEPTED])
    assert accepted_warning(fake, {"job_id": "j-1", "status": "InError"}) == ""  # type: ignore[arg-type]
    assert fake.calls == 0  # only Finished jobs cost the extra call
