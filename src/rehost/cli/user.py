"""`rehost account|user|key …`: who you are, the account's users and their AccessKeys."""

from __future__ import annotations

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option
from rehost.client import Document, RehostClient
from rehost.team_client import TeamClient

ROLES = click.Choice(["admin", "operator", "read-only"])
USER_COLUMNS = [("ID", "user_id"), ("NAME", "name"), ("ROLE", "role"), ("OWNER", "owner"),
                ("CREATED", "created_at")]
KEY_COLUMNS = [("ACCESS KEY ID", "access_key_id"), ("ENABLED", "enabled"),
               ("CREATED", "created_at"), ("LAST USED", "last_used_at")]
USER_OPTION = click.option("--user", "-u", "user", default="", metavar="NAME|ID",
                           help="Whose keys (default: your own user).")


@click.group("account")
def account() -> None:
    """Your account, user and role; your own password."""


@account.command("show")
@out.output_option
@profile_option
def account_show(output: str, profile: str) -> None:
    """Show the account, user and role of the AccessKey in use."""
    out.show(call(profile, output, lambda c: TeamClient(c).me()), output)


@account.command("password")
@click.option("--old-password", prompt=True, hide_input=True, help="Your current password.")
@click.option("--new-password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="8–128 characters.")
@out.output_option
@profile_option
def account_password(old_password: str, new_password: str, output: str, profile: str) -> None:
    """Change your own console password (the current one is required)."""
    doc = call(profile, output, lambda c: TeamClient(c).change_password(
        old_password=old_password, new_password=new_password))
    out.done(doc, output, "Password changed")


@click.group("user")
def user() -> None:
    """Users of the account (admin only for changes): roles admin, operator, read-only."""


@user.command("list")
@out.output_option
@profile_option
def user_list(output: str, profile: str) -> None:
    """List the account's users."""
    doc = call(profile, output, lambda c: TeamClient(c).list_users())
    out.show(doc, output, columns=USER_COLUMNS, items_key="users")


@user.command("create")
@click.argument("name")
@click.option("--role", type=ROLES, required=True, help="What the user may do.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The initial console password (8–128 characters).")
@out.output_option
@profile_option
def user_create(name: str, role: str, password: str, output: str, profile: str) -> None:
    """Create a user; it logs in to the console as NAME@ACCOUNT."""
    doc = call(profile, output, lambda c: TeamClient(c).create_user(
        name=name, role=role, password=password))
    out.show(doc, output)


@user.command("set-role")
@click.argument("user_ref", metavar="NAME|ID")
@click.argument("role", type=ROLES)
@out.output_option
@profile_option
def user_set_role(user_ref: str, role: str, output: str, profile: str) -> None:
    """Change a user's role (the account's first admin stays admin)."""
    def act(c: RehostClient) -> Document:
        team = TeamClient(c)
        return team.set_role(team.user_id_of(user_ref), role)
    out.show(call(profile, output, act), output)


@user.command("delete")
@click.argument("user_ref", metavar="NAME|ID")
@out.output_option
@profile_option
def user_delete(user_ref: str, output: str, profile: str) -> None:
    """Delete a user, its AccessKeys and its console sessions."""
    def act(c: RehostClient) -> Document:
        team = TeamClient(c)
        return team.delete_user(team.user_id_of(user_ref))
    out.done(call(profile, output, act), output, f"Deleted user {user_ref}")


@user.command("reset-password")
@click.argument("user_ref", metavar="NAME|ID")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (8–128 characters).")
@out.output_option
@profile_option
def user_reset_password(user_ref: str, password: str, output: str, profile: str) -> None:
    """Set another user's password (admin)."""
    def act(c: RehostClient) -> Document:
        team = TeamClient(c)
        return team.reset_password(team.user_id_of(user_ref), password)
    out.done(call(profile, output, act), output, f"Password of {user_ref} reset")
