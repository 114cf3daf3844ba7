"""Builds the REST client from the profile and turns refusals into exit codes."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

import click

from rehost.cli import output
from rehost.cli.profile import ProfileError, resolve
from rehost.client import ClientError, RehostClient

T = TypeVar("T")


def profile_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--profile NAME` (saved by `rehost configure`)."""
    option = click.option("--profile", "profile", default="default", show_default=True,
                          envvar="REHOST_PROFILE", help="Profile saved by `rehost configure`.")
    return option(func)


def client_for(profile_name: str) -> RehostClient:
    """A client for the resolved endpoint and AccessKey."""
    profile = resolve(profile_name)
    verify: str | bool = profile.ca_file or True
    try:
        return RehostClient(profile.endpoint, profile.access_key_id, profile.access_key_secret,
                            verify=verify, language=os.environ.get("LANG", ""))
    except (OSError, ssl.SSLError) as exc:  # httpx loads the CA file when the client is built
        raise ProfileError(
            f"Cannot load the CA file {profile.ca_file!r} ({exc}); fix REHOST_CA_FILE or the "
            f"profile's ca_file. 无法加载 CA 文件 {profile.ca_file!r}；请修改 REHOST_CA_FILE "
            "或配置中的 ca_file。"
        ) from exc


def call(profile_name: str, fmt: str, action: Callable[[RehostClient], T]) -> T:
    """Run one API action; a refusal prints code + message and exits 1."""
    try:
        with client_for(profile_name) as client:
            return action(client)
    except ProfileError as exc:
        output.fail(ClientError("MissingCredentials", str(exc)), fmt)
    except ClientError as exc:
        output.fail(exc, fmt)
