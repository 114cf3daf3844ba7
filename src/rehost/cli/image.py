"""`rehost image list|describe|delete|verify` (SMC 自定义镜像)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option
from rehost.cli.profile import ProfileError, resolve
from rehost.client import ClientError, RehostClient

# the server answers only when the guest booted (or failed): wait for QEMU plus a margin
HTTP_MARGIN_S = 60.0

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


@image.command("verify")
@click.argument("image_id")
@click.option("--timeout", "timeout_s", type=click.FloatRange(1, 3600), default=300.0,
              show_default=True, help="Seconds the guest has to reach a success line.")
@click.option("--success-pattern", "patterns", multiple=True,
              help="Regex that also means success (repeatable; login: and REHOST-BOOT-OK "
                   "always do).")
@out.output_option
@profile_option
def verify(image_id: str, timeout_s: float, patterns: tuple[str, ...], output: str,
           profile: str) -> None:
    """Boot the image headless in QEMU on the server; exit 0 on PASS, 1 on FAIL."""
    body = {"timeout": timeout_s, "success_patterns": list(patterns)}
    doc: dict[str, Any] = _long_call(profile, output, timeout_s + HTTP_MARGIN_S, lambda c: (
        c.transport.call("POST", f"/images/{image_id}/verify", json=body)))
    if output == "json":
        out.emit_json(doc)
    else:
        _show_verification(doc)
    sys.exit(0 if doc.get("passed") else 1)


def _show_verification(doc: dict[str, Any]) -> None:
    """Human lines: verdict, what matched or why it failed, where the console log is."""
    if doc.get("passed"):
        click.echo(f"PASS 通过: image {doc['image_id']} booted ({doc['boot_mode']}, "
                   f"{doc['duration_s']:.1f} s, {doc.get('accelerator') or 'qemu'})")
        click.echo(f"  console: {doc.get('matched_line') or doc.get('reason')}")
    else:
        click.echo(f"FAIL 失败: image {doc['image_id']} did not boot ({doc['boot_mode']}, "
                   f"{doc['duration_s']:.1f} s)")
        click.echo(f"  reason 原因: {doc.get('reason')}"
                   + (f" / {doc['reason_zh']}" if doc.get("reason_zh") else ""))
    click.echo(f"  console log 控制台日志: {doc.get('log_path')}")


def _long_call(profile_name: str, fmt: str, timeout_s: float,
               action: Callable[[RehostClient], Any]) -> Any:
    """Like `connect.call`, with an HTTP timeout long enough for a boot."""
    try:
        prof = resolve(profile_name)
        with RehostClient(prof.endpoint, prof.access_key_id, prof.access_key_secret,
                          verify=prof.ca_file or True, timeout_s=timeout_s,
                          language=os.environ.get("LANG", "")) as client:
            return action(client)
    except ProfileError as exc:
        out.fail(ClientError("MissingCredentials", str(exc)), fmt)
    except ClientError as exc:
        out.fail(exc, fmt)
