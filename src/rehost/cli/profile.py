"""Where the CLI finds the endpoint and AccessKey: environment first, then the saved profile."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rehost.privatefile import write_private


class ProfileError(RuntimeError):
    """No usable credentials; the message says how to provide them."""


@dataclass(frozen=True, slots=True)
class Profile:
    """Endpoint and AccessKey of one rehost server."""

    endpoint: str = ""
    access_key_id: str = ""
    access_key_secret: str = ""
    ca_file: str = ""  # PEM bundle to trust for an https endpoint ("" = system trust)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """`$REHOST_CONFIG`, else `$XDG_CONFIG_HOME/rehost/config.json` (~/.config by default)."""
    env = os.environ if env is None else env
    if env.get("REHOST_CONFIG"):
        return Path(env["REHOST_CONFIG"]).expanduser()
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "rehost" / "config.json"


def read_profiles(path: Path) -> dict[str, Profile]:
    """All saved profiles (empty when the file does not exist)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = set(Profile.__dataclass_fields__)
        return {str(name): Profile(**{k: str(v) for k, v in raw.items() if k in fields})
                for name, raw in data.get("profiles", {}).items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise ProfileError(
            f"The config file {path} is unreadable or corrupt ({exc.__class__.__name__}); "
            "fix it, or delete it and run `rehost configure` again. "
            f"配置文件 {path} 无法读取或已损坏；请修复，或删除后重新运行 `rehost configure`。"
        ) from exc


def write_profile(path: Path, name: str, profile: Profile) -> None:
    """Save one profile; the file is created 0600 since it holds a secret."""
    profiles = read_profiles(path)
    profiles[name] = profile
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {"profiles": {k: asdict(v) for k, v in profiles.items()}}
    write_private(path, json.dumps(document, indent=2))


def check_endpoint(endpoint: str) -> bool:
    """Whether `endpoint` is an http(s) URL with a host."""
    parts = urlsplit(endpoint)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def resolve(name: str = "default", env: Mapping[str, str] | None = None) -> Profile:
    """The saved profile with each field overridden by REHOST_* variables when set."""
    env = os.environ if env is None else env
    saved = read_profiles(config_path(env)).get(name, Profile())
    profile = Profile(
        endpoint=env.get("REHOST_ENDPOINT") or saved.endpoint,
        access_key_id=env.get("REHOST_ACCESS_KEY_ID") or saved.access_key_id,
        access_key_secret=env.get("REHOST_ACCESS_KEY_SECRET") or saved.access_key_secret,
        ca_file=env.get("REHOST_CA_FILE") or saved.ca_file,
    )
    if profile.endpoint and not check_endpoint(profile.endpoint):
        raise ProfileError(
            f"The endpoint {profile.endpoint!r} is not an http:// or https:// URL; fix "
            "REHOST_ENDPOINT or run `rehost configure`. "
            f"服务地址 {profile.endpoint!r} 不是 http:// 或 https:// 开头的 URL；"
            "请修改 REHOST_ENDPOINT 或重新运行 `rehost configure`。"
        )
    if not (profile.endpoint and profile.access_key_id and profile.access_key_secret):
        raise ProfileError(
            "No endpoint/AccessKey configured: run `rehost configure` or set REHOST_ENDPOINT, "
            "REHOST_ACCESS_KEY_ID and REHOST_ACCESS_KEY_SECRET. "
            "未配置服务地址或 AccessKey：请运行 `rehost configure` 或设置上述环境变量。"
        )
    return profile
