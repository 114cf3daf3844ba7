"""server.toml (env and flags override it, unknown keys refused by name) and the JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from rehost.config import SettingsError, load_settings
from rehost.configfile import merged_environment, read_config_file
from rehost.logformat import REQUEST_ID, JsonFormatter, RequestIdFilter
from rehost.server import print_listening


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "server.toml"
    path.write_text(text)
    return path


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nlisten = "0.0.0.0:8000"\ndata_dir = "/srv/rehost"\n'
                 'log_format = "json"\ntls = true\nheartbeat_interval_s = 10\n')
    env = merged_environment(str(path), {"REHOST_DATA_DIR": "/env/dir"})
    settings = load_settings(env=env, log_format=None)
    assert (settings.listen, str(settings.data_dir)) == ("0.0.0.0:8000", "/env/dir")
    assert settings.api_tls and settings.heartbeat_interval_s == 10.0
    assert settings.log_format == "json"
    flagged = load_settings(env=env, listen="127.0.0.1:9000", log_format="text")
    assert (flagged.listen, flagged.log_format) == ("127.0.0.1:9000", "text")


def test_every_server_setting_can_come_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\ndata_hello_timeout_s = 3\ndata_max_connections = 40\n'
                 'data_max_connections_per_ip = 4\nfile_group = "root"\n'
                 'image_store_roots = ["/srv/images", "/mnt/images"]\n'
                 'local_accept_failed_checks = true\nreceivers = 3\n')
    settings = load_settings(env=merged_environment(str(path), {}))
    limits = settings.data_port_limits
    assert (limits.hello_timeout_s, limits.max_connections,
            limits.max_connections_per_address) == (3.0, 40, 4)
    assert settings.file_group == "root" and settings.local_accept_failed_checks
    assert settings.image_store_roots == (Path("/srv/images"), Path("/mnt/images"))
    assert settings.receiver_processes == 3


def test_receivers_auto_flag_env_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert load_settings(data_dir="/tmp/x", env={}).receiver_processes == 4  # auto: up to 4
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    auto = load_settings(data_dir="/tmp/x", env={"REHOST_RECEIVERS": "auto"})
    assert auto.receiver_processes == 1
    env = {"REHOST_RECEIVERS": "6"}
    assert load_settings(data_dir="/tmp/x", env=env).receiver_processes == 6
    assert load_settings(data_dir="/tmp/x", env=env, receivers=1).receiver_processes == 1
    for bad in ("-1", "two", "33", "1.5"):
        with pytest.raises(SettingsError, match=r"REHOST_RECEIVERS must be auto or 0 to 32"):
            load_settings(data_dir="/tmp/x", env={"REHOST_RECEIVERS": bad})


@pytest.mark.parametrize(("text", "named"), [
    ('[server]\nlisten_port = 1\n', "listen_port"),
    ('[server]\ndata_max_connections = true\n', "data_max_connections must be a int"),
    ('[server]\nimage_store_roots = "/srv"\n', "image_store_roots must be a list"),
    ('[server]\nimage_store_roots = [1]\n', "image_store_roots must be a list"),
    ('[server]\nlisten = 7001\n', "listen must be a str"),
    ('[serverr]\nlisten = "a:1"\n', "serverr"),
    ('[server\n', "not valid TOML"),
])
def test_bad_files_refused_by_name(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(SettingsError, match=named) as caught:
        read_config_file(write(tmp_path, text))
    assert str(tmp_path) in str(caught.value) and "：" in str(caught.value)  # English + Chinese


def test_missing_explicit_file_refused_default_optional(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        merged_environment(str(tmp_path / "absent.toml"), {})
    assert merged_environment(None, {"A": "1"})["A"] == "1"


def test_bad_log_level_named() -> None:
    with pytest.raises(SettingsError, match="--log-level must be one of"):
        load_settings(env={}, log_level="loud")


def test_json_line_carries_request_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("rehost.test.json")
    log.addHandler(handler)
    log.propagate = False
    token = REQUEST_ID.set("rid-1")
    try:
        log.warning("hello %s", "世界", extra={"status": 200})
    finally:
        REQUEST_ID.reset(token)
        log.removeHandler(handler)
    doc = json.loads(stream.getvalue())
    assert doc["message"] == "hello 世界" and doc["request_id"] == "rid-1"
    assert doc["level"] == "warning" and doc["status"] == 200


def test_print_listening_names_both_ports(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = load_settings(env={}, data_dir=tmp_path, listen="127.0.0.1:7101")
    print_listening(settings, tls=True, data_port=True, out=out)
    assert "https://127.0.0.1:7101" in out.getvalue() and "127.0.0.1:7102" in out.getvalue()


def test_server_command_refuses_a_bad_config_file_by_name(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rehost.cli.main import cli

    path = write(tmp_path, '[server]\nlisten = "127.0.0.1:7001"\nlog_colour = "red"\n')
    result = CliRunner().invoke(cli, ["server", "--config", str(path)])
    assert result.exit_code == 2 and "log_colour" in result.output
    bad_flag = CliRunner().invoke(cli, ["server", "--log-format", "xml"])
    assert bad_flag.exit_code == 2 and "xml" in bad_flag.output
