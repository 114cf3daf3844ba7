"""Server settings, built once in main() and passed down (never read at import time)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rehost.transit.limits import (
    AUTO_RECEIVERS_MAX,
    MAX_RECEIVERS,
    DataPortLimits,
    LimitSettingError,
    limits_from_env,
    receiver_count,
)

DEFAULT_LISTEN = "127.0.0.1:7001"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "rehost"


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the control plane needs to start."""

    data_dir: Path
    listen: str = DEFAULT_LISTEN
    database_url: str = ""  # "" = SQLite at <data_dir>/rehost.db
    master_key: bytes | None = None  # None = <data_dir>/master.key (created at first start)
    heartbeat_interval_s: float = 30.0
    scheduler_interval_s: float = 5.0
    # Returns the server CA certificate (PEM) sent to agents at import; the [data] area's
    # rehost.pki provides it. None: read `server_ca_path` if set, else "".
    server_ca_pem: Callable[[], str] | None = field(default=None, compare=False)
    server_ca_path: Path | None = None
    print_credentials: bool = True
    # transit data port (TLS); "" = listen host, listen port + 1
    data_listen: str = ""
    # host name or IP agents use to reach the data port; "" = the data listen host
    data_advertise: str = ""
    # serve the API/console over HTTPS with a certificate from the server CA
    api_tls: bool = False
    log_format: str = "text"  # text | json (rehost.logformat)
    log_level: str = "info"  # debug | info | warning | error
    # bounds of the data port before HELLO (REHOST_DATA_HELLO_TIMEOUT_S, _MAX_CONNECTIONS, …)
    data_port_limits: DataPortLimits = field(default_factory=DataPortLimits)
    # receiver processes behind the embedded data port (1: in the server process; 0: auto)
    receivers: int = 0
    # the built-in `local` region, when first created, publishes images whose checks fail
    local_accept_failed_checks: bool = False
    # group that may read the data dir, database and images ("" = owner only)
    file_group: str = ""
    # folders region image stores must lie in (empty = the data dir only)
    image_store_roots: tuple[Path, ...] = ()
    # bearer token Prometheus sends to /metrics ("" = loopback clients only)
    metrics_token: str = field(default="", repr=False)

    @property
    def store_roots(self) -> tuple[Path, ...]:
        """Where region image stores may be: the configured roots, else the data dir."""
        return self.image_store_roots or (self.data_dir,)

    @property
    def data_listen_addr(self) -> tuple[str, int]:
        """(host, port) of the transit data listener."""
        if self.data_listen:
            host, _, port = self.data_listen.rpartition(":")
            return host.strip("[]"), int(port)
        return self.listen_host, self.listen_port + 1

    @property
    def data_endpoint(self) -> str:
        """`host:port` handed to agents for the data stream."""
        host, port = self.data_listen_addr
        advertised = self.data_advertise or host
        if advertised in ("0.0.0.0", "::", ""):
            import socket

            advertised = socket.getfqdn()
        return f"{advertised}:{port}"

    @property
    def receiver_processes(self) -> int:
        """How many processes receive data: `receivers`, or auto (one per core, at most 4)."""
        return receiver_count(self.receivers, os.cpu_count())

    @property
    def listen_host(self) -> str:
        """Host part of `listen`."""
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def listen_port(self) -> int:
        """Port part of `listen`."""
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def sqlite_path(self) -> Path:
        """Where the default SQLite database lives."""
        return self.data_dir / "rehost.db"

    def read_server_ca(self) -> str:
        """Return the server CA PEM given to agents ("" when none is configured)."""
        if self.server_ca_pem is not None:
            return self.server_ca_pem()
        if self.server_ca_path is not None and self.server_ca_path.exists():
            return self.server_ca_path.read_text()
        return ""


def _parse_listen(listen: str) -> str:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"--listen must be HOST:PORT (e.g. {DEFAULT_LISTEN}), got {listen!r}")
    return listen


def _parse_master_key(text: str | None) -> bytes | None:
    if text is None or text == "":
        return None
    key = text.encode()
    if len(key) < 32:
        raise SettingsError("REHOST_MASTER_KEY must be at least 32 characters (use 64 hex digits)")
    return key


def _parse_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}; "
                            f"{name} 只能是 {'、'.join(choices)} 之一，当前为 {value!r}")
    return value


def load_settings(
    *,
    data_dir: str | Path | None = None,
    listen: str | None = None,
    env: Mapping[str, str] | None = None,
    server_ca_pem: Callable[[], str] | None = None,
    data_listen: str | None = None,
    data_advertise: str | None = None,
    api_tls: bool | None = None,
    log_format: str | None = None,
    log_level: str | None = None,
    file_group: str | None = None,
    image_store_roots: Sequence[str | Path] = (),
    receivers: int | None = None,
) -> Settings:
    """Build settings from arguments, then `REHOST_*` environment variables, then defaults."""
    env = os.environ if env is None else env
    directory = Path(data_dir or env.get("REHOST_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()
    interval = float(env.get("REHOST_HEARTBEAT_INTERVAL_S", "30"))
    data = data_listen or env.get("REHOST_DATA_LISTEN") or ""
    if interval <= 0:
        raise SettingsError("REHOST_HEARTBEAT_INTERVAL_S must be > 0")
    lenient = env.get("REHOST_LOCAL_ACCEPT_FAILED_CHECKS", "0")
    if lenient not in ("0", "1", "true", "false"):
        raise SettingsError(f"REHOST_LOCAL_ACCEPT_FAILED_CHECKS must be 0 or 1, not {lenient!r} "
                            f"(REHOST_LOCAL_ACCEPT_FAILED_CHECKS 须为 0 或 1)")
    return Settings(
        data_dir=directory,
        listen=_parse_listen(listen or env.get("REHOST_LISTEN") or DEFAULT_LISTEN),
        database_url=env.get("REHOST_DATABASE_URL", ""),
        master_key=_parse_master_key(env.get("REHOST_MASTER_KEY")),
        heartbeat_interval_s=interval,
        server_ca_pem=server_ca_pem,
        data_listen=_parse_listen(data) if data else "",
        data_advertise=data_advertise or env.get("REHOST_DATA_ADVERTISE", ""),
        api_tls=api_tls if api_tls is not None else env.get("REHOST_TLS", "") in ("1", "true"),
        log_format=_parse_choice("--log-format", log_format or env.get("REHOST_LOG_FORMAT")
                                 or "text", LOG_FORMATS),
        log_level=_parse_choice("--log-level", log_level or env.get("REHOST_LOG_LEVEL")
                                or "info", LOG_LEVELS),
        data_port_limits=_data_port_limits(env),
        receivers=_parse_receivers(receivers, env.get("REHOST_RECEIVERS", "")),
        local_accept_failed_checks=lenient in ("1", "true"),
        file_group=file_group or env.get("REHOST_FILE_GROUP", ""),
        image_store_roots=_parse_roots(image_store_roots or _env_roots(env)),
        metrics_token=_parse_metrics_token(env.get("REHOST_METRICS_TOKEN", "")),
    )


def _parse_metrics_token(token: str) -> str:
    if token and (len(token) < 16 or not token.isprintable() or " " in token):
        raise SettingsError("REHOST_METRICS_TOKEN (metrics_token) must be at least 16 printable "
                            "characters without spaces; REHOST_METRICS_TOKEN（metrics_token）须为"
                            "至少 16 个不含空格的可打印字符")
    return token


def _parse_receivers(flag: int | None, text: str) -> int:
    if flag is not None:
        value = flag
    elif not text.strip() or text.strip() == "auto":
        value = 0
    else:
        value = int(text) if text.strip().isdigit() else -1
    if not 0 <= value <= MAX_RECEIVERS:
        raise SettingsError(
            f"--receivers / REHOST_RECEIVERS must be auto or 0 to {MAX_RECEIVERS} (0: auto, one "
            f"per core up to {AUTO_RECEIVERS_MAX}), got {text if flag is None else flag!r}; "
            f"--receivers / REHOST_RECEIVERS 须为 auto 或 0 到 {MAX_RECEIVERS}（0：自动，每核一个，"
            f"最多 {AUTO_RECEIVERS_MAX} 个）")
    return value


def _data_port_limits(env: Mapping[str, str]) -> DataPortLimits:
    try:
        return limits_from_env(env)
    except LimitSettingError as exc:
        raise SettingsError(str(exc)) from exc


def _env_roots(env: Mapping[str, str]) -> list[str]:
    return [p for p in env.get("REHOST_IMAGE_STORE_ROOTS", "").split(os.pathsep) if p]


def _parse_roots(roots: Sequence[str | Path]) -> tuple[Path, ...]:
    parsed = tuple(Path(r).expanduser() for r in roots)
    for root in parsed:
        if not root.is_absolute() or root == Path("/"):
            raise SettingsError(
                f"--image-store-root {str(root)!r} must be an absolute folder other than '/'. "
                f"--image-store-root {str(root)!r} 须为 '/' 以外的绝对路径。")
    return parsed
