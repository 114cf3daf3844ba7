"""`rehost activation-code create|list|disable` (SMC activation codes / CreateAccessToken)."""

from __future__ import annotations

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option

COLUMNS = [("ID", "code_id"), ("NAME", "name"), ("STATE", "state"), ("USED", "registered_count"),
           ("COUNT", "count"), ("EXPIRES", "expire_time")]


@click.group("activation-code")
def activation_code() -> None:
    """Activation codes with which agents import source servers."""


@activation_code.command("create")
@click.option("--count", type=click.IntRange(1, 1000), default=None,
              help="How many sources may use it (1–1000) [default: 100].")
@click.option("--ttl-days", type=click.IntRange(1, 90), default=None,
              help="Days until it expires (1–90) [default: 30].")
@click.option("--name", default=None, help="A name to recognise it by.")
@out.output_option
@profile_option
def create(count: int | None, ttl_days: int | None, name: str | None, output: str,
           profile: str) -> None:
    """Create an activation code; the code itself is shown only once."""
    doc = call(profile, output, lambda c: c.create_activation_code(
        count=count, ttl_days=ttl_days, name=name))
    if output == "json":
        out.emit_json(doc)
        return
    click.echo(f"Activation code ID: {doc.get('code_id')}")
    click.echo(f"Activation code:    {doc.get('code')}   (shown once; 仅显示一次)")
    click.echo("Import a source server with / 导入迁移源：")
    combined = f"{doc.get('code_id')}:{doc.get('code')}"
    click.echo(f"  rehost agent import --endpoint <URL> --code {combined}")


@activation_code.command("list")
@out.output_option
@profile_option
def list_codes(output: str, profile: str) -> None:
    """List activation codes: activated / unactivated / expired / disabled, usage."""
    doc = call(profile, output, lambda c: c.list_activation_codes())
    out.show(doc, output, columns=COLUMNS, items_key="activation_codes")


@activation_code.command("disable")
@click.argument("code_id")
@out.output_option
@profile_option
def disable(code_id: str, output: str, profile: str) -> None:
    """Disable an activation code (sources already imported stay)."""
    doc = call(profile, output, lambda c: c.disable_activation_code(code_id))
    out.show(doc, output)
