"""`rehost tag add|remove|list`: key/value tags of jobs and sources (SMC TagResources)."""

from __future__ import annotations

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option

TYPES = click.Choice(["job", "source"])
RESOURCE_TYPE = {"job": "replicationjob", "source": "sourceserver"}
COLUMNS = [("TYPE", "resource_type"), ("RESOURCE", "resource_id"), ("KEY", "key"),
           ("VALUE", "value")]


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for value in values:
        key, sep, tag_value = value.partition("=")
        if not key or not sep:
            raise click.BadParameter(f"{value!r}: write KEY=VALUE (VALUE may be empty)",
                                     param_hint="TAG")
        tags[key] = tag_value
    return tags


@click.group("tag")
def tag() -> None:
    """Tags of jobs and sources (at most 20 per resource)."""


@tag.command("add")
@click.argument("kind", type=TYPES)
@click.argument("resource_id")
@click.argument("tags", nargs=-1, required=True)
@out.output_option
@profile_option
def add(kind: str, resource_id: str, tags: tuple[str, ...], output: str, profile: str) -> None:
    """Add or overwrite tags: rehost tag add job j-… team=web env=prod."""
    pairs = _pairs(tags)
    doc = call(profile, output,
               lambda c: c.tag_resources(RESOURCE_TYPE[kind], [resource_id], pairs))
    out.done(doc, output, f"Tagged {resource_id}")


@tag.command("remove")
@click.argument("kind", type=TYPES)
@click.argument("resource_id")
@click.argument("keys", nargs=-1)
@click.option("--all", "all_tags", is_flag=True, help="Remove every tag of the resource.")
@out.output_option
@profile_option
def remove(kind: str, resource_id: str, keys: tuple[str, ...], all_tags: bool, output: str,
           profile: str) -> None:
    """Remove tag keys (or --all) from a job or source."""
    if not keys and not all_tags:
        raise click.UsageError("give tag KEYS to remove, or --all")
    doc = call(profile, output, lambda c: c.untag_resources(
        RESOURCE_TYPE[kind], [resource_id], keys=list(keys), all_tags=all_tags))
    out.done(doc, output, f"Untagged {resource_id}")


@tag.command("list")
@click.argument("kind", type=TYPES)
@click.argument("resource_ids", nargs=-1)
@click.option("--tag", "tag_filters", multiple=True, help="Only resources with KEY or KEY=VALUE.")
@out.output_option
@profile_option
def list_tags(kind: str, resource_ids: tuple[str, ...], tag_filters: tuple[str, ...],
              output: str, profile: str) -> None:
    """List the tags of jobs or sources."""
    doc = call(profile, output, lambda c: c.list_tags(
        RESOURCE_TYPE[kind], resource_ids=list(resource_ids), tags=list(tag_filters)))
    out.show(doc, output, columns=COLUMNS, items_key="tags")
