"""`rehost image list|describe|delete` (SMC 自定义镜像)."""

from __future__ import annotations

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option

COLUMNS = [("ID", "image_id"), ("NAME", "name"), ("REGION", "region_id"), ("JOB", "job_id"),
           ("SOURCE", "source_id"), ("CREATED", "creation_time")]


@click.group("image")
def image() -> None:
    """Custom images produced by finished jobs."""


@image.command("list")
@click.option("--region", "region_id", default=None, help="Only this region.")
@click.option("--name", default=None, help="Only images with this name.")
@click.option("--page-number", type=click.IntRange(min=1), default=None)
@click.option("--page-size", type=click.IntRange(1, 50), default=None)
@out.output_option
@profile_option
def list_images(region_id: str | None, name: str | None, page_number: int | None,
                page_size: int | None, output: str, profile: str) -> None:
    """List images."""
    doc = call(profile, output, lambda c: c.list_images(
        region_id=region_id, name=name, page_number=page_number, page_size=page_size))
    out.show(doc, output, columns=COLUMNS, items_key="images")


@image.command("describe")
@click.argument("image_id")
@out.output_option
@profile_option
def describe(image_id: str, output: str, profile: str) -> None:
    """Show one image and its manifest."""
    out.show(call(profile, output, lambda c: c.get_image(image_id)), output)


@image.command("delete")
@click.argument("image_id")
@out.output_option
@profile_option
def delete(image_id: str, output: str, profile: str) -> None:
    """Delete an image and its files."""
    doc = call(profile, output, lambda c: c.delete_image(image_id))
    out.done(doc, output, f"Deleted image {image_id}")
