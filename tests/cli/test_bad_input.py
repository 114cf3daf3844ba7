"""CLI bad input: a clear bilingual error and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rehost.cli.main import cli
from rehost.cli.profile import Profile, resolve, write_profile

CJK = re.compile(r"[\u4e00-\u9fff]")
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens there


def run(args: list[str], env: dict[str, str], stdin: str = "") -> Result:
    """Invoke `rehost` in-process with a clean REHOST_* environment."""
    base = {k: "" for k in ("REHOST_ENDPOINT", "REHOST_ACCESS_KEY_ID",
                            "REHOST_ACCESS_KEY_SECRET", "REHOST_CA_FILE", "REHOST_PROFILE")}
    return CliRunner().invoke(cli, args, env={**base, **env}, input=stdin,
                              catch_exceptions=True)


def assert_refused(result: Result, *, bilingual: bool = True) -> str:
    """Non-zero exit through SystemExit (no traceback) with a bilingual message."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception, result.output)
    assert "Traceback" not in result.output
    if bilingual:
        assert CJK.search(result.output), result.output
    return str(result.output)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An empty config location and reachable-looking credentials."""
    return {"REHOST_CONFIG": str(tmp_path / "config.json"), "REHOST_ENDPOINT": UNREACHABLE,
            "REHOST_ACCESS_KEY_ID": "AK", "REHOST_ACCESS_KEY_SECRET": "secret"}


@pytest.mark.parametrize("args", [
    ["job", "list"], ["job", "describe", "j-x"], ["source", "list"], ["region", "list"],
    ["image", "list"], ["activation-code", "list"], ["job", "start", "j-1", "j-2"],
])
def test_unreachable_endpoint(env: dict[str, str], args: list[str]) -> None:
    text = assert_refused(run(args, env))
    assert "ConnectionFailed" in text
    as_json = run([*args, "--output", "json"], env)
    assert_refused(as_json)
    assert json.loads(as_json.output)["code"] == "ConnectionFailed"


def test_missing_credentials_and_unknown_profile(env: dict[str, str]) -> None:
    no_key = {**env, "REHOST_ACCESS_KEY_SECRET": ""}
    assert "MissingCredentials" in assert_refused(run(["job", "list"], no_key))
    unknown = run(["job", "list", "--profile", "nope", "-o", "json"], no_key)
    assert json.loads(unknown.output)["code"] == "MissingCredentials"


@pytest.mark.parametrize("endpoint", ["x", "127.0.0.1:7001", "ftp://host", "http://"])
def test_endpoint_must_be_http_url(env: dict[str, str], endpoint: str) -> None:
    assert "http://" in assert_refused(run(["job", "list"], {**env, "REHOST_ENDPOINT": endpoint}))
    configure = run(["configure", "--endpoint", endpoint, "--access-key-id", "a",
                     "--access-key-secret", "b"], env)
    assert_refused(configure)
    assert not Path(env["REHOST_CONFIG"]).exists()  # nothing written


@pytest.mark.parametrize("content", ["{bad", "[]", '{"profiles": []}',
                                     '{"profiles": {"default": 5}}'])
def test_corrupt_config_file(env: dict[str, str], content: str) -> None:
    Path(env["REHOST_CONFIG"]).write_text(content)
    text = assert_refused(run(["job", "list"], {**env, "REHOST_ENDPOINT": ""}))
    assert "rehost configure" in text
    assert_refused(run(["configure", "--endpoint", UNREACHABLE, "--access-key-id", "a",
                        "--access-key-secret", "b"], env))
    assert Path(env["REHOST_CONFIG"]).read_text() == content  # not overwritten blindly


def test_missing_ca_file(env: dict[str, str], tmp_path: Path) -> None:
    bad_ca = {**env, "REHOST_ENDPOINT": "https://127.0.0.1:9",
              "REHOST_CA_FILE": str(tmp_path / "none.pem")}
    assert "REHOST_CA_FILE" in assert_refused(run(["job", "list"], bad_ca))


@pytest.mark.parametrize("disk", ["1", "1:", ":5", "a:5", "1:x", "-1:5", "1:5:6", "1:1.5"])
def test_bad_data_disk_syntax(env: dict[str, str], disk: str) -> None:
    result = run(["job", "create", "--source", "s-1", "--region", "local",
                  "--data-disk", disk], env)
    assert result.exit_code == 2 and "INDEX:GIB" in assert_refused(result)


@pytest.mark.parametrize(("option", "value"), [
    ("--compress-level", "11"), ("--compress-level", "x"), ("--system-disk-size", "ten"),
    ("--bandwidth-limit", "1.5"), ("--mode", "later"),
])
def test_bad_option_values_exit_2(env: dict[str, str], option: str, value: str) -> None:
    result = run(["job", "create", "--source", "s-1", "--region", "local", option, value], env)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert option in result.output


def test_configure_writes_profile_and_env_wins(env: dict[str, str]) -> None:
    saved = run(["configure", "--profile", "lab", "--endpoint", "http://saved:1",
                 "--access-key-id", "AKSAVED", "--access-key-secret", "s1"], env)
    assert saved.exit_code == 0, saved.output
    path = Path(env["REHOST_CONFIG"])
    only_file = {"REHOST_CONFIG": str(path)}
    assert resolve("lab", env=only_file) == Profile("http://saved:1", "AKSAVED", "s1")
    mixed = {**only_file, "REHOST_ENDPOINT": "http://env:2"}
    assert resolve("lab", env=mixed) == Profile("http://env:2", "AKSAVED", "s1")
    empty_env_var = {**only_file, "REHOST_ACCESS_KEY_ID": ""}  # empty = not set
    assert resolve("lab", env=empty_env_var).access_key_id == "AKSAVED"
    again = run(["configure", "--profile", "lab", "--endpoint", "http://new:3"], env, "\n\n")
    assert again.exit_code == 0, again.output  # keeps the saved key (prompt defaults)
    assert resolve("lab", env=only_file) == Profile("http://new:3", "AKSAVED", "s1")
    write_profile(path, "other", Profile("http://o:4", "AKO", "so"))
    assert resolve("lab", env=only_file).endpoint == "http://new:3"  # other profiles kept


@pytest.mark.parametrize("group", ["job", "source", "region", "image", "activation-code"])
def test_help_texts(group: str) -> None:
    result = CliRunner().invoke(cli, [group, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
