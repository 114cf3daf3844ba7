"""`rehost job logs [--follow]` and `rehost job wait [--timeout]`."""

from __future__ import annotations

import sys
import time
from typing import TypedDict, cast

import click

from rehost.cli import output as out
from rehost.cli.connect import call, client_for, profile_option
from rehost.cli.job import job
from rehost.cli.job_warning import JobEventDoc, echo_accepted_warning, event_line
from rehost.client import ClientError, RehostClient

TERMINAL = {"Finished", "InError", "Expired"}
EXIT_FINISHED, EXIT_ERROR, EXIT_TIMEOUT = 0, 1, 2


class DiskProgressDoc(TypedDict, total=False):
    """One entry of a job's `progress_disks` (`DiskProgressOut`)."""

    index: int
    bytes_total: int
    bytes_done: int
    rate_bytes_per_s: float
    eta_s: float | None


class JobDoc(TypedDict, total=False):
    """The fields of GET /jobs/{id} (`JobOut`) that waiting reads."""

    job_id: str
    status: str
    business_status: str
    progress: float
    bytes_total: int
    bytes_done: int
    progress_disks: list[DiskProgressDoc]


@job.command("logs")
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the job ends.")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Poll seconds.")
@out.output_option
@profile_option
def logs(job_id: str, follow: bool, interval: float, output: str, profile: str) -> None:
    """Show a job's event log (--output json with --follow prints one event per line)."""
    doc = call(profile, output, lambda c: c.job_events(job_id))
    events = list(doc.get("events", []))
    if output == "json" and not follow:
        out.emit_json(doc)
        return
    _print_events(events, output)
    if follow:
        call(profile, output, lambda c: _follow(c, job_id, events, interval, output))


def _print_events(events: list[JobEventDoc], output: str) -> None:
    import json

    for event in events:
        line = json.dumps(event, ensure_ascii=False) if output == "json" else event_line(event)
        click.echo(line)


def _follow(client: RehostClient, job_id: str, seen: list[JobEventDoc], interval: float,
            output: str) -> None:
    last_id = int(seen[-1]["id"]) if seen else 0
    while True:
        status = client.get_job(job_id).get("status", "")
        events = list(client.job_events(job_id, after_id=last_id).get("events", []))
        _print_events(events, output)
        if events:
            last_id = int(events[-1]["id"])
        elif status in TERMINAL:
            return
        time.sleep(interval)


@job.command("wait")
@click.argument("job_id")
@click.option("--timeout", type=float, default=None, help="Give up after SECONDS (exit 2).")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Poll seconds.")
@out.output_option
@profile_option
def wait(job_id: str, timeout: float | None, interval: float, output: str, profile: str) -> None:
    """Wait for a job to end: exit 0 Finished, 1 InError/Expired, 2 on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    show = None if output == "json" else ProgressView(tty=sys.stderr.isatty())
    try:
        with client_for(profile) as client:
            doc = _poll(client, job_id, deadline, interval, show)
            if output != "json":
                echo_accepted_warning(client, doc)
    except ClientError as exc:
        out.fail(exc, output)
    status = str(doc.get("status", ""))
    code = EXIT_FINISHED if status == "Finished" else EXIT_ERROR if status in TERMINAL \
        else EXIT_TIMEOUT
    if output == "json":
        out.emit_json({**doc, "timed_out": code == EXIT_TIMEOUT})
    else:
        click.echo(f"{job_id}: {status}" + (" (timed out; 等待超时)" if code == EXIT_TIMEOUT
                                             else ""))
    sys.exit(code)


def _poll(client: RehostClient, job_id: str, deadline: float | None, interval: float,
          show: ProgressView | None) -> JobDoc:
    while True:
        doc = cast(JobDoc, dict(client.get_job(job_id)))  # the server answers a JobOut
        if show is not None:
            show.update(doc)
        if doc.get("status") in TERMINAL:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        pause = interval if deadline is None else min(interval, max(0.0, deadline -
                                                                     time.monotonic()))
        time.sleep(pause)
    if show is not None and show.tty:
        click.echo("", err=True)
    return doc


def progress_text(doc: JobDoc) -> str:
    """'Running/Syncing  45.0%  120.0/266.7 MiB  35.2 MiB/s  ETA 4s' for a job document."""
    percent = float(doc.get("progress") or 0.0)
    state = "/".join(s for s in (doc.get("status"), doc.get("business_status")) if s)
    disks = doc.get("progress_disks") or []
    rate = sum(float(d.get("rate_bytes_per_s") or 0.0) for d in disks)
    etas = [float(d.get("eta_s") or 0.0) for d in disks if d.get("eta_s")]
    mib = 1024 * 1024
    parts = [f"{state:18}", f"{percent:5.1f}%"]
    if doc.get("bytes_total"):
        parts.append(f"{float(doc.get('bytes_done') or 0) / mib:.1f}/"
                     f"{float(doc['bytes_total']) / mib:.1f} MiB")
    if rate > 0:
        parts.append(f"{rate / mib:.1f} MiB/s")
    if etas:
        parts.append(f"ETA {max(etas):.0f}s")
    return "  ".join(parts)


class ProgressView:
    """A redrawn bar on a terminal; otherwise one line whenever the state or 5 % changes."""

    def __init__(self, *, tty: bool) -> None:
        self.tty = tty
        self._last: tuple[str, int] | None = None

    def update(self, doc: JobDoc) -> None:
        """Show the job's current progress."""
        percent = float(doc.get("progress") or 0.0)
        text = progress_text(doc)
        if self.tty:
            filled = int(percent / 100 * 30)
            click.echo(f"\r[{'#' * filled}{'.' * (30 - filled)}] {text:70}", err=True, nl=False)
            return
        key = (f"{doc.get('status')}/{doc.get('business_status')}", int(percent // 5))
        if key != self._last:
            self._last = key
            click.echo(text, err=True)
