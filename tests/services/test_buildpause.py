"""REHOST_TEST_BUILD_PAUSE groups: each group's steps get its own seconds."""

from __future__ import annotations

import pytest

from rehost.config import SettingsError
from rehost.transit.buildpause import pause_from_env


def test_groups_give_each_step_its_own_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    pause = pause_from_env({"REHOST_TEST_BUILD_PAUSE": "copied,resized:0;cleaning:0.01"})
    for step in ("copied", "resized", "prepared", "cleaning"):
        pause(step)
    assert capsys.readouterr().err.splitlines() == [
        "test pause at build step copied for 0.0 s", "test pause at build step resized for 0.0 s",
        "test pause at build step cleaning for 0.0 s"]


@pytest.mark.parametrize("bad", ["copied:0;", "copied:0;resize:1", "copied:0;cleaning:x"])
def test_a_bad_group_names_the_variable_and_the_separator(bad: str) -> None:
    with pytest.raises(SettingsError) as refused:
        pause_from_env({"REHOST_TEST_BUILD_PAUSE": bad})
    assert "REHOST_TEST_BUILD_PAUSE" in str(refused.value) and "';'" in str(refused.value)
    assert "分号" in str(refused.value)
