"""`rehost job create|start|pause|modify|delete|list|describe` (SMC 迁移任务)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option
from rehost.cli.job_warning import echo_accepted_warning
from rehost.domain.adaptation import JOB, REGION, resolve

COLUMNS = [("ID", "job_id"), ("NAME", "name"), ("STATUS", "status"),
           ("BUSINESS", "business_status"), ("PROGRESS %", "progress"), ("SOURCE", "source_id"),
           ("REGION", "region_id"), ("IMAGE", "image_id")]
ADAPT_FIELDS = ("adapt_guests", "keep_static_network")
STATUSES = ["Ready", "Running", "Stopped", "InError", "Finished", "Waiting", "Expired",
            "Deleting"]


def parse_data_disk(_ctx: click.Context, _param: click.Parameter,
                    values: tuple[str, ...]) -> list[dict[str, int]] | None:
    """`INDEX:GIB` pairs → [{"index": …, "size": …}]."""
    disks = []
    for value in values:
        index, sep, size = value.partition(":")
        if not sep or not index.isdigit() or not size.isdigit():
            raise click.BadParameter(f"{value!r} is not INDEX:GIB (e.g. 1:100). "
                                     f"{value!r} 格式应为 序号:GiB（如 1:100）。")
        disks.append({"index": int(index), "size": int(size)})
    return disks or None


def job_fields(func: Any) -> Any:
    """Options shared by create and modify (the job parameters of docs/design.md)."""
    options = [
        click.option("--name", default=None, help="2–128 chars, starts with a letter."),
        click.option("--description", default=None, help="Up to 256 chars."),
        click.option("--system-disk-size", type=int, default=None,
                     help="Target system disk GiB (default: source disk size)."),
        click.option("--data-disk", "data_disks", multiple=True, callback=parse_data_disk,
                     metavar="INDEX:GIB", help="Migrate data disk INDEX with GIB size."),
        click.option("--image-name", default=None, help="Name of the resulting image."),
        click.option("--mode", "execution_mode", default=None,
                     type=click.Choice(["create-only", "immediate", "scheduled"]),
                     help="When to start [default: create-only]."),
        click.option("--scheduled-start-time", default=None,
                     help="UTC ISO 8601, e.g. 2026-12-01T08:00:00Z (mode scheduled)."),
        click.option("--valid-time", default=None, help="Expiry, UTC ISO 8601 (7–90 days)."),
        click.option("--bandwidth-limit", type=int, default=None, help="KB/s, 0 = unlimited."),
        click.option("--compress-level", type=click.IntRange(0, 10), default=None,
                     help="0–10, 0 = none; 1–10 = the starting level, which the agent "
                          "adapts to the link (docs/agent.md)."),
        click.option("--checksum/--no-checksum", default=None,
                     help="Verify every written block end to end."),
        click.option("--incremental/--run-once", "incremental", default=None,
                     help="Incremental job: a new image every --frequency hours."),
        click.option("--frequency", type=click.IntRange(1, 168), default=None,
                     help="Incremental: hours between cycles (1–168)."),
        click.option("--max-images", type=click.IntRange(1, 10), default=None,
                     help="Incremental: images to keep (1–10, default 1)."),
        click.option("--adapt/--no-adapt", "adapt_guests", default=None,
                     help="OS-adapt the guest before publishing, or not (--no-adapt: a "
                          "byte-exact copy); absent: the region's adapt_guests. "
                          "发布前适配客户机操作系统与否（--no-adapt：逐字节复制）；不指定则沿用地域设置。"),
        click.option("--keep-static-network/--no-keep-static-network", "keep_static_network",
                     default=None,
                     help="Adaptation keeps the source's network configuration (needs "
                          "adaptation); absent: the region's keep_static_network. "
                          "适配时保留源服务器的网络配置（需开启适配）；不指定则沿用地域设置。"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group("job")
def job() -> None:
    """Migration jobs: create, start, pause, watch, delete."""


@job.command("create")
@click.option("--source", "source_id", required=True, help="Source server ID (s-…).")
@click.option("--region", "region_id", required=True, help="Target region ID.")
@job_fields
@out.output_option
@profile_option
def create(output: str, profile: str, **fields: Any) -> None:
    """Create a migration job."""
    body = _incremental_body(fields)
    out.show(call(profile, output, lambda c: c.create_job(body)), output)


@job.command("modify")
@click.argument("job_id")
@job_fields
@out.output_option
@profile_option
@click.option("--adapt-as-region", is_flag=True, default=False,
              help="Drop this job's --adapt/--keep-static-network choices: use the region's. "
                   "去掉该任务的适配选项，沿用地域设置。")
def modify(job_id: str, output: str, profile: str, adapt_as_region: bool,
           **fields: Any) -> None:
    """Change a job (name/description any time; the rest before its first run)."""
    body = _incremental_body(fields)
    clear: tuple[str, ...] = ()
    if adapt_as_region:
        if fields["adapt_guests"] is not None or fields["keep_static_network"] is not None:
            raise click.UsageError(
                "--adapt-as-region drops the job's adaptation choices: give it without "
                "--adapt/--no-adapt/--keep-static-network. "
                "--adapt-as-region 会去掉任务的适配选项：请勿同时指定 --adapt/--no-adapt/"
                "--keep-static-network。")
        clear = ADAPT_FIELDS
    out.show(call(profile, output, lambda c: c.modify_job(job_id, body, clear=clear)), output)


def _incremental_body(fields: dict[str, object]) -> dict[str, object]:
    """CLI option names → REST field names of an incremental job."""
    body = dict(fields)
    incremental = body.pop("incremental", None)
    body["run_once"] = None if incremental is None else not incremental
    body["max_number_of_image_to_keep"] = body.pop("max_images", None)
    return body


@job.command("start")
@click.argument("job_ids", nargs=-1, required=True)
@out.output_option
@profile_option
def start(job_ids: tuple[str, ...], output: str, profile: str) -> None:
    """Start or retry jobs (at most 10; Ready, Stopped, InError; Waiting = next cycle now)."""
    if len(job_ids) == 1:
        out.show(call(profile, output, lambda c: c.start_job(job_ids[0])), output)
        return
    doc = call(profile, output, lambda c: c.start_jobs(list(job_ids)))
    rows = [{"job_id": r.get("job_id"), "ok": r.get("ok"), **(r.get("error") or {})}
            for r in doc.get("results", [])]
    if output == "json":
        out.emit_json(doc)
    else:
        click.echo(out.table(rows, [("JOB", "job_id"), ("STARTED", "ok"), ("CODE", "code"),
                                    ("MESSAGE", "message")]))
    if not all(r["ok"] for r in rows):
        raise SystemExit(1)


@job.command("pause")
@click.argument("job_id")
@out.output_option
@profile_option
def pause(job_id: str, output: str, profile: str) -> None:
    """Pause a job (Running + Syncing), or stop a Waiting incremental job between cycles."""
    out.show(call(profile, output, lambda c: c.pause_job(job_id)), output)


@job.command("cutover")
@click.argument("job_id")
@click.option("--sync-data/--no-sync-data", default=True, show_default=True,
              help="Run one last delta cycle first (else the last cycle's image is final).")
@out.output_option
@profile_option
def cutover(job_id: str, sync_data: bool, output: str, profile: str) -> None:
    """End a Waiting incremental job: it ends Finished with its final image."""
    out.show(call(profile, output, lambda c: c.cut_over_job(job_id, sync_data=sync_data)), output)


@job.command("delete")
@click.argument("job_id")
@out.output_option
@profile_option
def delete(job_id: str, output: str, profile: str) -> None:
    """Delete a job (not while Running); releases its transit."""
    doc = call(profile, output, lambda c: c.delete_job(job_id))
    out.done(doc, output, f"Deleted job {job_id}")


@job.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only this status.")
@click.option("--business-status",
              type=click.Choice(["Preparing", "Syncing", "Processing", "Cleaning"]),
              default=None, help="Only Running jobs in this business status.")
@click.option("--region", "region_id", default=None, help="Only this region.")
@click.option("--source", "source_id", default=None, help="Only this source.")
@click.option("--name", default=None, help="Only jobs with this name.")
@click.option("--page-number", type=click.IntRange(min=1), default=None)
@click.option("--page-size", type=click.IntRange(1, 50), default=None)
@out.output_option
@profile_option
def list_jobs(output: str, profile: str, **filters: Any) -> None:
    """List jobs."""
    doc = call(profile, output, lambda c: c.list_jobs(**filters))
    out.show(doc, output, columns=COLUMNS, items_key="jobs")


@job.command("describe")
@click.argument("job_id")
@out.output_option
@profile_option
def describe(job_id: str, output: str, profile: str) -> None:
    """Show one job with progress, timestamps and its image (and a failed-checks warning)."""
    doc = call(profile, output, lambda c: c.get_job(job_id))
    out.show(doc, output)
    if output != "json":
        region = call(profile, output, lambda c: c.get_region(str(doc["region_id"])))
        for line in adaptation_lines(doc, region):
            click.echo(line)
        call(profile, output, lambda c: echo_accepted_warning(c, doc))


def _word(on: bool) -> str:
    chinese = os.environ.get("LANG", "").lower().startswith("zh")
    return ("开" if on else "关") if chinese else ("on" if on else "off")


def adaptation_lines(job_doc: Mapping[str, Any], region_doc: Mapping[str, Any]) -> list[str]:
    """'adapt guests: off (job)' / 'keep static network: on (region)' — the effective values."""
    chinese = os.environ.get("LANG", "").lower().startswith("zh")
    got = resolve(job_doc.get("adapt_guests"), job_doc.get("keep_static_network"),
                  region_adapt=bool(region_doc.get("adapt_guests")),
                  region_keep=bool(region_doc.get("keep_static_network")))
    origin = {JOB: "任务" if chinese else "job", REGION: "地域" if chinese else "region"}
    names = ("客户机适配", "保留静态网络") if chinese else ("adapt guests", "keep static network")
    return [f"{names[0]}: {_word(got.adapt_guests)} ({origin[got.adapt_from]})",
            f"{names[1]}: {_word(got.keep_static_network)} ({origin[got.keep_from]})"]
