"""`rehost workgroup list|create|describe|modify|delete|add|remove`: groups of sources."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option
from rehost.client import Document, RehostClient

COLUMNS = [("ID", "workgroup_id"), ("NAME", "name"), ("SOURCES", "source_ids"),
           ("CREATED", "created_at")]
Action = Callable[[RehostClient], Document]


def _api(method: str, path: str, *, body: Document | None = None,
         params: Mapping[str, str | int | None] | None = None) -> Action:
    """One call of /api/v1/workgroups…"""
    def act(client: RehostClient) -> Document:
        result = client.transport.call(method, "/workgroups" + path, json=body, params=params)
        return dict(result) if isinstance(result, dict) else {}
    return act


@click.group("workgroup")
def workgroup() -> None:
    """Workgroups: named groups of sources (SMC CreateWorkgroup …)."""


@workgroup.command("list")
@click.option("--name", default=None, help="Only names containing this.")
@out.output_option
@profile_option
def wg_list(name: str | None, output: str, profile: str) -> None:
    """List workgroups, newest first."""
    doc = call(profile, output, _api("GET", "", params={"name": name, "page_size": 50}))
    out.show(doc, output, columns=COLUMNS, items_key="workgroups")


@workgroup.command("create")
@click.argument("name")
@click.option("--description", default="", help="Up to 256 characters.")
@out.output_option
@profile_option
def wg_create(name: str, description: str, output: str, profile: str) -> None:
    """Create a workgroup (its name is unique in the account)."""
    body = {"name": name, "description": description}
    out.show(call(profile, output, _api("POST", "", body=body)), output)


@workgroup.command("describe")
@click.argument("workgroup_id")
@out.output_option
@profile_option
def wg_describe(workgroup_id: str, output: str, profile: str) -> None:
    """Show one workgroup and its sources."""
    out.show(call(profile, output, _api("GET", f"/{workgroup_id}")), output)


@workgroup.command("modify")
@click.argument("workgroup_id")
@click.option("--name", default=None, help="A new name.")
@click.option("--description", default=None, help="A new description.")
@out.output_option
@profile_option
def wg_modify(workgroup_id: str, name: str | None, description: str | None, output: str,
              profile: str) -> None:
    """Rename a workgroup or change its description."""
    if name is None and description is None:
        raise click.UsageError("give --name and/or --description")
    body = {"name": name, "description": description}
    out.show(call(profile, output, _api("PATCH", f"/{workgroup_id}", body=body)), output)


@workgroup.command("delete")
@click.argument("workgroup_id")
@out.output_option
@profile_option
def wg_delete(workgroup_id: str, output: str, profile: str) -> None:
    """Delete a workgroup (its sources stay)."""
    doc = call(profile, output, _api("DELETE", f"/{workgroup_id}"))
    out.done(doc, output, f"Deleted {workgroup_id}")


@workgroup.command("add")
@click.argument("workgroup_id")
@click.argument("source_ids", nargs=-1, required=True)
@out.output_option
@profile_option
def wg_add(workgroup_id: str, source_ids: tuple[str, ...], output: str, profile: str) -> None:
    """Put sources (1–50) into a workgroup."""
    body = {"source_ids": list(source_ids)}
    out.show(call(profile, output, _api("POST", f"/{workgroup_id}/sources", body=body)), output)


@workgroup.command("remove")
@click.argument("workgroup_id")
@click.argument("source_ids", nargs=-1, required=True)
@out.output_option
@profile_option
def wg_remove(workgroup_id: str, source_ids: tuple[str, ...], output: str,
              profile: str) -> None:
    """Take sources (1–50) out of a workgroup."""
    body = {"source_ids": list(source_ids)}
    doc = call(profile, output, _api("POST", f"/{workgroup_id}/sources/remove", body=body))
    out.show(doc, output)
