"""`rehost configure`: save an endpoint and AccessKey as a profile (0600)."""

from __future__ import annotations

import click

from rehost.cli.connect import client_for
from rehost.cli.profile import (
    Profile,
    ProfileError,
    check_endpoint,
    config_path,
    read_profiles,
    write_profile,
)
from rehost.client import ClientError


@click.command("configure")
@click.option("--profile", "name", default="default", show_default=True, help="Profile name.")
@click.option("--endpoint", help="Server URL, e.g. http://127.0.0.1:7001.")
@click.option("--access-key-id", help="AccessKey ID (from admin-credentials.json).")
@click.option("--access-key-secret", help="AccessKey secret.")
@click.option("--ca-file", default=None, help="PEM file to trust for an https endpoint.")
def configure(name: str, endpoint: str | None, access_key_id: str | None,
              access_key_secret: str | None, ca_file: str | None) -> None:
    """Save the server endpoint and AccessKey (prompts for what is not given)."""
    path = config_path()
    try:
        old = read_profiles(path).get(name, Profile())
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    profile = Profile(
        endpoint=endpoint or click.prompt("Endpoint", default=old.endpoint or None),
        access_key_id=access_key_id or click.prompt("AccessKey ID",
                                                    default=old.access_key_id or None),
        access_key_secret=access_key_secret or click.prompt(
            "AccessKey secret", hide_input=True, default=old.access_key_secret or None,
            show_default=False),
        ca_file=ca_file if ca_file is not None else old.ca_file,
    )
    if not check_endpoint(profile.endpoint):
        raise click.BadParameter(
            f"{profile.endpoint!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:7001). "
            "服务地址须为 http:// 或 https:// 开头的 URL。", param_hint="--endpoint")
    write_profile(path, name, profile)
    click.echo(f"Saved profile {name!r} to {path}")
    confirm_with_server(name)


def confirm_with_server(name: str) -> None:
    """Check the saved AccessKey; the server then deletes its admin-credentials.json."""
    try:
        with client_for(name) as client:
            doc = client.confirm_credentials()
    except (ClientError, ProfileError) as exc:
        click.echo(f"warning: could not check the AccessKey with the server ({exc}); "
                   "admin-credentials.json is kept until the first login or a successful "
                   "`rehost configure`. 警告：无法向服务器验证 AccessKey；admin-credentials.json "
                   "将保留至首次登录或下次成功执行 `rehost configure`。", err=True)
        return
    if doc.get("credentials_file_deleted"):
        click.echo("The server deleted admin-credentials.json (the key is saved here now). "
                   "服务器已删除 admin-credentials.json。")
