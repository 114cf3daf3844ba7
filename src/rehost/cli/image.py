"""`rehost image list|describe|delete|verify|export|download` (SMC 自定义镜像)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option
from rehost.cli.profile import ProfileError, resolve
from rehost.client import ClientError, RehostClient
from rehost.domain.exports import EXPORT_FORMATS

# the server answers only when the guest booted (or failed): wait for QEMU plus a margin
HTTP_MARGIN_S = 60.0
EXPORT_TIMEOUT_S = 3600.0  # qemu-img convert of a large disk, or a slow download

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
    """Show one image, its manifest and its location (directory, disk files, URLs)."""
    out.show(call(profile, output, lambda c: c.get_image(image_id)), output)


@image.command("delete")
@click.argument("image_id")
@out.output_option
@profile_option
def delete(image_id: str, output: str, profile: str) -> None:
    """Delete an image and its files."""
    doc = call(profile, output, lambda c: c.delete_image(image_id))
    out.done(doc, output, f"Deleted image {image_id}")


class ExportedDisk(TypedDict, total=False):
    """A disk of POST /images/{id}/export (`DiskFileOut`), and where it was downloaded."""

    index: int
    path: str
    format: str
    size_bytes: int
    url: str
    downloaded_to: str


class ExportDoc(TypedDict):
    """POST /images/{id}/export (`ExportOut`)."""

    image_id: str
    format: str
    disks: list[ExportedDisk]


class VerificationDoc(TypedDict):
    """POST /images/{id}/verify (`VerificationOut`)."""

    image_id: str
    boot_mode: str
    passed: bool
    reason: str
    reason_zh: str
    matched_line: str
    duration_s: float
    accelerator: str
    log_path: str
    verify_result: str


@image.command("export")
@click.argument("image_id")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True,
              help="Target disk format (qemu-img convert on the server).")
@click.option("--download", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Also download the exported disks into this directory.")
@out.output_option
@profile_option
def export(image_id: str, fmt: str, directory: Path | None, output: str, profile: str) -> None:
    """Convert the image's disks to qcow2, vmdk or vhdx beside it on the server."""
    doc: ExportDoc = _long_call(profile, output, EXPORT_TIMEOUT_S, lambda c: (
        c.transport.call("POST", f"/images/{image_id}/export", json={"format": fmt})))
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        for disk in doc["disks"]:
            target = directory / f"{image_id}-disk-{disk['index']}.{fmt}"
            _download(profile, output, image_id, int(disk["index"]), fmt, target)
            disk["downloaded_to"] = str(target)
    if output == "json":
        out.emit_json(doc)
        return
    for disk in doc["disks"]:
        click.echo(f"disk {disk['index']}: {disk['path']}"
                   + (f" -> {disk['downloaded_to']}" if "downloaded_to" in disk else ""))


@image.command("download")
@click.argument("image_id")
@click.option("--disk", "index", type=click.IntRange(min=0), default=0, show_default=True,
              help="Disk index (0 = system disk).")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default=None,
              help="Download an earlier `rehost image export` in this format instead of "
                   "the published disk.")
@click.option("--output-file", "-o", "target", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="File to write; an existing partial file is resumed.")
@out.output_option
@profile_option
def download(image_id: str, index: int, fmt: str | None, target: Path, output: str,
             profile: str) -> None:
    """Download one disk of an image over the API (resumes with HTTP Range)."""
    written = _download(profile, output, image_id, index, fmt or "", target)
    out.done({"image_id": image_id, "disk": index, "file": str(target), "bytes": written},
             output, f"Downloaded disk {index} of {image_id} to {target} ({written} new bytes)")


def _download(profile: str, output: str, image_id: str, index: int, fmt: str,
              target: Path) -> int:
    written: int = _long_call(profile, output, EXPORT_TIMEOUT_S, lambda c: c.transport.download(
        f"/images/{image_id}/disks/{index}", target, params={"format": fmt}))
    return written


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
    doc: VerificationDoc = _long_call(profile, output, timeout_s + HTTP_MARGIN_S, lambda c: (
        c.transport.call("POST", f"/images/{image_id}/verify", json=body)))
    if output == "json":
        out.emit_json(doc)
    else:
        _show_verification(doc)
    sys.exit(0 if doc.get("passed") else 1)


def _show_verification(doc: VerificationDoc) -> None:
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
