"""`rehost transit run` needs a registration code on its first run; the code commands exist."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from rehost.cli.main import cli


def test_first_run_without_a_code_says_how_to_get_one(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        result = CliRunner().invoke(cli, [
            "transit", "run", "--endpoint", "http://127.0.0.1:9", "--region", "dc-2",
            "--data-listen", "127.0.0.1:0", "--advertise", "127.0.0.1",
            "--work-dir", str(tmp_path / "w"), "--image-store", str(tmp_path / "s"),
            "--state-dir", str(tmp_path / "state")], env={"REHOST_TRANSIT_CODE": ""})
    finally:
        os.umask(umask)  # `transit run` sets umask 077 for its process
    assert result.exit_code == 2, result.output
    assert "--registration-code" in result.output and "注册" in result.output
    assert "transit code create" in result.output


def test_code_and_revoke_commands_are_listed() -> None:
    text = CliRunner().invoke(cli, ["transit", "--help"]).output
    assert "code" in text and "revoke" in text
    create = CliRunner().invoke(cli, ["transit", "code", "create", "--help"]).output
    assert "--host-name" in create and "--region" in create
