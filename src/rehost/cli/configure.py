"""`rehost configure`: save an endpoint and AccessKey as a profile (0600)."""

from __future__ import annotations

import click

from rehost.cli.profile import (
    Profile,
    ProfileError,
    check_endpoint,
    config_path,
    read_profiles,
    write_profile,
)


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
