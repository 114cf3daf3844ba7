"""`/etc/rehost/server.toml`: read into `REHOST_*` values that env and flags then override."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from rehost.config import SettingsError

DEFAULT_CONFIG_PATH = Path("/etc/rehost/server.toml")
# key in [server] -> (environment variable it stands for, TOML type)
KEYS: dict[str, tuple[str, type]] = {
    "data_dir": ("REHOST_DATA_DIR", str),
    "listen": ("REHOST_LISTEN", str),
    "data_listen": ("REHOST_DATA_LISTEN", str),
    "data_advertise": ("REHOST_DATA_ADVERTISE", str),
    "database_url": ("REHOST_DATABASE_URL", str),
    "tls": ("REHOST_TLS", bool),
    "heartbeat_interval_s": ("REHOST_HEARTBEAT_INTERVAL_S", float),
    "log_format": ("REHOST_LOG_FORMAT", str),
    "log_level": ("REHOST_LOG_LEVEL", str),
    "data_hello_timeout_s": ("REHOST_DATA_HELLO_TIMEOUT_S", float),
    "data_max_connections": ("REHOST_DATA_MAX_CONNECTIONS", int),
    "data_max_connections_per_ip": ("REHOST_DATA_MAX_CONNECTIONS_PER_IP", int),
    "receivers": ("REHOST_RECEIVERS", int),  # 0: auto
    "file_group": ("REHOST_FILE_GROUP", str),
    "image_store_roots": ("REHOST_IMAGE_STORE_ROOTS", list),  # of folder paths
    "local_accept_failed_checks": ("REHOST_LOCAL_ACCEPT_FAILED_CHECKS", bool),
    "metrics_token": ("REHOST_METRICS_TOKEN", str),
}


def _refuse(path: Path, en: str, zh: str) -> SettingsError:
    return SettingsError(f"{path}: {en}; {path}：{zh}")


def _value(path: Path, key: str, raw: object) -> str:
    _env, kind = KEYS[key]
    ok = (isinstance(raw, kind) and not (kind is int and isinstance(raw, bool))) or (
        kind is float and isinstance(raw, int) and not isinstance(raw, bool))
    if isinstance(raw, list):
        ok = ok and all(isinstance(item, str) for item in raw)
    if not ok:
        raise _refuse(path, f"[server] {key} must be a {kind.__name__}, got {raw!r}",
                      f"[server] {key} 必须是 {kind.__name__} 类型，当前为 {raw!r}")
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list):
        return os.pathsep.join(raw)
    return str(raw)


def _server_table(path: Path, doc: Mapping[str, object]) -> Mapping[str, object]:
    extra = sorted(set(doc) - {"server"})
    if extra:
        raise _refuse(path, f"unknown table or key {', '.join(extra)} (only [server] exists)",
                      f"未知的表或键 {', '.join(extra)}（只有 [server]）")
    table = doc.get("server", {})
    if not isinstance(table, Mapping):
        raise _refuse(path, "server must be a table ([server])", "server 必须是表（[server]）")
    return table


def read_config_file(path: Path) -> dict[str, str]:
    """The file's settings as `REHOST_*` values; unknown keys and wrong types refused by name."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _refuse(path, f"cannot read the config file: {exc.strerror}",
                      f"无法读取配置文件：{exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _refuse(path, f"not valid TOML: {exc}", f"不是有效的 TOML：{exc}") from exc
    table = _server_table(path, doc)
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise _refuse(path, f"unknown key [server] {', '.join(unknown)} (known: "
                      f"{', '.join(KEYS)})", f"未知的键 [server] {', '.join(unknown)}"
                      f"（可用：{', '.join(KEYS)}）")
    return {KEYS[key][0]: _value(path, key, raw) for key, raw in table.items()}


def merged_environment(config: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """Config-file values under the real environment (env wins); the default path is optional."""
    path = Path(config) if config else DEFAULT_CONFIG_PATH
    if config is None and not path.exists():
        return dict(env)
    return {**read_config_file(path), **env}
