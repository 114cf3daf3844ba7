"""`rehost key list|create|disable|enable|delete`: AccessKeys of a user (admin only for changes)."""

from __future__ import annotations

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option
from rehost.cli.user import KEY_COLUMNS, USER_OPTION
from rehost.client import Document, RehostClient
from rehost.team_client import TeamClient


@click.group("key")
def key() -> None:
    """AccessKeys of users: the secret is shown once, at creation."""


@key.command("list")
@USER_OPTION
@out.output_option
@profile_option
def key_list(user: str, output: str, profile: str) -> None:
    """List a user's AccessKeys with their last use (no secrets)."""
    def act(c: RehostClient) -> Document:
        team = TeamClient(c)
        return team.list_keys(team.user_id_of(user))
    out.show(call(profile, output, act), output, columns=KEY_COLUMNS, items_key="keys")


@key.command("create")
@USER_OPTION
@out.output_option
@profile_option
def key_create(user: str, output: str, profile: str) -> None:
    """Create an AccessKey; save its secret now, it is never shown again."""
    def act(c: RehostClient) -> Document:
        team = TeamClient(c)
        return team.create_key(team.user_id_of(user))
    doc = call(profile, output, act)
    out.show(doc, output)
    if output != "json":
        click.echo("Save the secret now: it is not shown again. "
                   "请立即保存 Secret：它不会再次显示。", err=True)


def _switch(user: str, key_id: str, output: str, profile: str, *, enabled: bool) -> None:
    def act(c: RehostClient) -> Document:
        team = TeamClient(c)
        return team.set_key_enabled(team.user_id_of(user), key_id, enabled=enabled)
    doc = call(profile, output, act)
    out.done(doc, output, f"{'Enabled' if enabled else 'Disabled'} {key_id}")


@key.command("disable")
@click.argument("key_id")
@USER_OPTION
@out.output_option
@profile_option
def key_disable(key_id: str, user: str, output: str, profile: str) -> None:
    """Disable a key: it is refused from the next request on."""
    _switch(user, key_id, output, profile, enabled=False)


@key.command("enable")
@click.argument("key_id")
@USER_OPTION
@out.output_option
@profile_option
def key_enable(key_id: str, user: str, output: str, profile: str) -> None:
    """Enable a disabled key again."""
    _switch(user, key_id, output, profile, enabled=True)


@key.command("delete")
@click.argument("key_id")
@USER_OPTION
@out.output_option
@profile_option
def key_delete(key_id: str, user: str, output: str, profile: str) -> None:
    """Delete a key for good."""
    def act(c: RehostClient) -> Document:
        team = TeamClient(c)
        return team.delete_key(team.user_id_of(user), key_id)
    out.done(call(profile, output, act), output, f"Deleted {key_id}")
