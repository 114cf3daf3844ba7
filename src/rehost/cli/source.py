"""`rehost source list|describe|modify|delete` (SMC 迁移源)."""

from __future__ import annotations

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option

COLUMNS = [("ID", "source_id"), ("NAME", "name"), ("STATE", "state"), ("HOSTNAME", "hostname"),
           ("OS", "os_name"), ("ARCH", "arch"), ("LAST HEARTBEAT", "heartbeat_time")]
STATES = ["Available", "InUse", "Unavailable", "Deleting"]


@click.group("source")
def source() -> None:
    """Source servers registered by their agents."""


@source.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only this state.")
@click.option("--name", default=None, help="Only sources with this name.")
@click.option("--page-number", type=click.IntRange(min=1), default=None)
@click.option("--page-size", type=click.IntRange(1, 50), default=None)
@out.output_option
@profile_option
def list_sources(state: str | None, name: str | None, page_number: int | None,
                 page_size: int | None, output: str, profile: str) -> None:
    """List source servers."""
    doc = call(profile, output, lambda c: c.list_sources(
        state=state, name=name, page_number=page_number, page_size=page_size))
    out.show(doc, output, columns=COLUMNS, items_key="sources")


@source.command("describe")
@click.argument("source_id")
@out.output_option
@profile_option
def describe(source_id: str, output: str, profile: str) -> None:
    """Show one source server with its disks and the agent's pre-flight report."""
    doc = call(profile, output, lambda c: c.get_source(source_id))
    if output != "json":
        doc = {**doc, "preflight": preflight_line(doc.get("preflight") or [])}
    out.show(doc, output)


def preflight_line(report: list[dict[str, str]]) -> str:
    """The pre-flight report on one line: `OK root · FAIL clock: +900 s from the server`."""
    if not report:
        return "(not reported)"
    return " · ".join(f"{c['level']} {c['name']}" + (f": {c['detail']}" if c["level"] != "OK"
                                                      else "") for c in report)


@source.command("modify")
@click.argument("source_id")
@click.option("--name", default=None, help="New name.")
@click.option("--description", default=None, help="New description.")
@out.output_option
@profile_option
def modify(source_id: str, name: str | None, description: str | None, output: str,
           profile: str) -> None:
    """Change a source server's name or description."""
    doc = call(profile, output, lambda c: c.modify_source(source_id, name=name,
                                                           description=description))
    out.show(doc, output)


@source.command("delete")
@click.argument("source_id")
@click.option("--force", is_flag=True, help="Delete even with an unfinished job.")
@out.output_option
@profile_option
def delete(source_id: str, force: bool, output: str, profile: str) -> None:
    """Delete a source server."""
    doc = call(profile, output, lambda c: c.delete_source(source_id, force=force))
    out.done(doc, output, f"Deleted source {source_id}")
