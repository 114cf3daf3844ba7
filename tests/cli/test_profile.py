"""Profiles: 0600 file, environment overrides, helpful error when nothing is configured."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rehost.cli.output import table
from rehost.cli.profile import Profile, ProfileError, resolve, write_profile


def test_environment_overrides_saved_profile(tmp_path: Path) -> None:
    path = tmp_path / "rehost" / "config.json"
    write_profile(path, "default", Profile("http://saved:1", "AKSAVED", "secret-saved"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    env = {"REHOST_CONFIG": str(path), "REHOST_ACCESS_KEY_ID": "AKENV"}
    assert resolve(env=env) == Profile("http://saved:1", "AKENV", "secret-saved")


def test_nothing_configured_explains_both_ways(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        resolve(env={"REHOST_CONFIG": str(tmp_path / "none.json")})
    assert "rehost configure" in str(info.value) and "REHOST_ENDPOINT" in str(info.value)


def test_table_aligns_columns_and_marks_empty_cells() -> None:
    text = table([{"a": "x", "b": ""}, {"a": "longer", "b": 3}], [("A", "a"), ("B", "b")])
    assert text.splitlines() == ["A       B", "x       -", "longer  3"]
