"""packaging/: systemd units pass `systemd-analyze verify`; the Dockerfile a structural lint."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from rehost.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
UNITS = sorted((PACKAGING / "systemd").glob("*.service"))
INSTALLED = "/usr/local/bin/rehost"
REHOST = str(Path(sys.executable).with_name("rehost"))


def systemd_analyze() -> str:
    """The tool, or skip (fail under CI: scripts/install-system-deps.sh installs it)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze missing under CI (Debian package systemd)")
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    return tool


def render(unit: Path, directory: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's `rehost` (verify needs the binary)."""
    target = directory / unit.name
    target.write_text(unit.read_text().replace(INSTALLED, REHOST))
    return target


def test_units_verify_clean(tmp_path: Path) -> None:
    tool = systemd_analyze()
    assert [u.name for u in UNITS] == ["rehost-agent.service", "rehost-server.service",
                                       "rehost-transit.service"]
    rendered = [str(render(u, tmp_path)) for u in UNITS]
    done = subprocess.run([tool, "verify", *rendered], capture_output=True, text=True,
                          timeout=120, check=False)
    # verify only warns (exit 0) on unknown keys and bad values: any output is a failure
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_verify_catches_a_bad_unit(tmp_path: Path) -> None:
    tool = systemd_analyze()
    bad = tmp_path / "bad.service"
    bad.write_text(f"[Service]\nExecStart={REHOST} server\nRestart=sometimes\n")
    done = subprocess.run([tool, "verify", str(bad)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert "restart specifier" in done.stdout + done.stderr


def exec_argv(unit: Path) -> list[str]:
    """ExecStart of a unit, split like systemd (after ${VAR} expansion to a placeholder)."""
    line = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    return shlex.split(re.sub(r"\$\{\w+\}", "X", line.removeprefix("ExecStart=")))


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_command_lines_parse(unit: Path) -> None:
    argv = exec_argv(unit)
    assert argv[0] == INSTALLED
    ctx = cli.make_context("rehost", argv[1:], resilient_parsing=False)
    try:
        sub = cli.get_command(ctx, argv[1])
        assert isinstance(sub, click.Group | click.Command)
        if isinstance(sub, click.Group):
            leaf = sub.get_command(ctx, argv[2])
            assert leaf is not None
            leaf.make_context(argv[2], argv[3:])  # raises on an unknown or missing option
        else:
            sub.make_context(argv[1], argv[2:])
    finally:
        ctx.close()


def dockerfile_problems(text: str) -> list[str]:
    """The documented Dockerfile check (hadolint is not packaged in Debian); [] when clean."""
    lines = [x.strip() for x in re.sub(r"\\\n", " ", text).splitlines()
             if x.strip() and not x.strip().startswith("#")]
    ops = [x.split(None, 1)[0].upper() for x in lines]
    problems = []
    if not re.match(r"FROM debian:[a-z]+-slim$", lines[0]):
        problems.append("FROM must be a pinned Debian slim release")
    users = [x.split()[1] for x in lines if x.upper().startswith("USER ")]
    if not users or users[-1] in ("root", "0"):
        problems.append("the last USER must be non-root")
    for line in lines:
        if line.startswith("RUN") and "apt-get install" in line and not (
                "--no-install-recommends" in line and "rm -rf /var/lib/apt/lists" in line):
            problems.append("apt-get install needs --no-install-recommends and a list cleanup")
        if line.startswith("ADD "):
            problems.append("use COPY, not ADD")
        if line.startswith("COPY "):
            sources = line.split()[1:-1]
            problems += [f"COPY source {s} missing" for s in sources if not (ROOT / s).exists()]
    for op in ("ENTRYPOINT", "HEALTHCHECK"):
        found = [x for x in lines if x.startswith(op)]
        if not found or '["' not in found[0]:
            problems.append(f"{op} must exist in exec (JSON) form")
    if "EXPOSE" not in ops:
        problems.append("EXPOSE the API and data ports")
    return problems


def test_dockerfile_structural_lint() -> None:
    text = (PACKAGING / "Dockerfile").read_text()
    assert dockerfile_problems(text) == []
    assert "/readyz" in text and "EXPOSE 7001 7002" in text


def test_dockerfile_lint_can_fail() -> None:
    bad = "FROM python:3.12\nRUN apt-get install -y curl\nADD x /x\nCMD rehost server\n"
    assert len(dockerfile_problems(bad)) >= 5


def test_example_server_toml_is_accepted() -> None:
    from rehost.configfile import read_config_file

    env = read_config_file(PACKAGING / "server.toml")
    assert env["REHOST_LISTEN"] == "0.0.0.0:7001" and env["REHOST_TLS"] == "true"
