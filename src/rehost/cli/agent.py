"""`rehost agent import|run`: register this machine (or disk images) and keep it online."""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path

import click

from rehost.agent.livecopy import LiveSettings
from rehost.cli import agent_state
from rehost.cli import output as out
from rehost.cli.agent_state import AgentState, AgentStateError
from rehost.client import AgentClient, ClientError
from rehost.protocol.work import WorkItem
from rehost.wire import WireError

log = logging.getLogger(__name__)


def inventory_for(system_disk: str | None, data_disks: tuple[str, ...]) -> dict[str, object]:
    """Discover the real server, or the given disk image files."""
    from rehost.agent import discovery

    try:
        if system_disk:
            found = discovery.discover_image_files(Path(system_disk), [Path(p) for p in data_disks])
        else:
            found = discovery.discover_server()
    except discovery.DiscoveryError as exc:
        raise click.ClickException(str(exc)) from exc
    return found.to_dict()


def split_code(code_id: str | None, code: str) -> tuple[str, str]:
    """(code id, code) from `--code-id` + `--code`, or from `--code CODE_ID:CODE`."""
    if code_id:
        return code_id, code
    prefix, sep, secret = code.partition(":")
    if not sep or not prefix or not secret:
        raise click.UsageError("give --code-id, or --code as CODE_ID:CODE / "
                               "请提供 --code-id，或以 CODE_ID:CODE 形式提供 --code")
    return prefix, secret


@click.group("agent")
def agent() -> None:
    """The agent on a source server: import it, then keep it running."""


@agent.command("import")
@click.option("--endpoint", required=True, help="Server URL, e.g. https://rehost.example:7001.")
@click.option("--code", required=True,
              help="Activation code, or CODE_ID:CODE as `activation-code create` prints it.")
@click.option("--code-id", default=None, help="Activation code ID (at-…) if not in --code.")
@click.option("--name", default=None, help="Source name [default: hostname].")
@click.option("--system-disk", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Migrate this disk image file instead of the real server.")
@click.option("--data-disk", "data_disks", multiple=True,
              type=click.Path(exists=True, dir_okay=False), help="Data disk image file.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=agent_state.DEFAULT_STATE_DIR, show_default=True)
@click.option("--ca-file", default=None, help="PEM to trust for an https endpoint.")
@out.output_option
def import_source(endpoint: str, code: str, code_id: str | None, name: str | None,
                  system_disk: str | None, data_disks: tuple[str, ...], state_dir: Path,
                  ca_file: str | None, output: str) -> None:
    """Register this machine as a migration source (SMC 导入迁移源)."""
    if data_disks and not system_disk:
        raise click.UsageError("--data-disk needs --system-disk (image files mode)")
    code_id, code = split_code(code_id, code)
    inventory = inventory_for(system_disk, data_disks)
    client = AgentClient(endpoint, verify=ca_file or True)
    try:
        doc = client.import_source(code_id=code_id, code=code, inventory=inventory,
                                   name=name)
    except ClientError as exc:
        out.fail(exc, output)
    finally:
        client.close()
    state = AgentState(
        endpoint=endpoint, source_id=str(doc["source_id"]), agent_token=str(doc["agent_token"]),
        heartbeat_interval_s=float(doc.get("heartbeat_interval_s") or 30.0),
        system_disk=str(Path(system_disk).resolve()) if system_disk else "",
        data_disks=tuple(str(Path(p).resolve()) for p in data_disks), ca_file=ca_file or "",
    )
    agent_state.save(state_dir, state, ca_pem=str(doc.get("server_ca_pem") or ""))
    if output == "json":
        out.emit_json({k: v for k, v in doc.items() if k != "agent_token"})
    else:
        click.echo(f"Import Source Server [{state.source_id}] Successfully!")


@agent.command("run")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=agent_state.DEFAULT_STATE_DIR, show_default=True)
@click.option("--heartbeat-interval", type=float, default=None,
              help="Seconds between heartbeats [default: the server's rate].")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=3.0,
              show_default=True,
              help="Seconds between polls for work when the server does not hold polls "
                   "(older servers); rehost servers answer a held poll as soon as there is "
                   "work.")
@click.option("--snapshot-percent", type=click.IntRange(1, 100), default=20, show_default=True,
              help="LVM snapshot size for a mounted LV whose VG has free extents, in % of "
                   "the LV (docs/consistency.md).")
@click.option("--freeze-limit", type=click.FloatRange(1.0, 600.0), default=20.0,
              show_default=True,
              help="Longest a mounted filesystem stays frozen (fsfreeze) for the final "
                   "catch-up pass, in seconds.")
def run(state_dir: Path, heartbeat_interval: float | None, poll_interval: float,
        snapshot_percent: int, freeze_limit: float) -> None:
    """Keep the source online: heartbeat, poll for work, replicate disks."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll drowns the log
    try:
        state = agent_state.load(state_dir)
    except AgentStateError as exc:
        raise click.ClickException(str(exc)) from exc
    run_agent(state, heartbeat_interval_s=heartbeat_interval, poll_interval_s=poll_interval,
              live=LiveSettings(snapshot_percent=snapshot_percent, freeze_limit_s=freeze_limit))


def run_agent(state: AgentState, *, heartbeat_interval_s: float | None = None,
              stop: threading.Event | None = None, poll_interval_s: float = 3.0,
              live: LiveSettings | None = None) -> None:
    """Run the agent: `rehost.agent.main.run` when the data plane provides it, else the loop."""
    interval = heartbeat_interval_s or state.heartbeat_interval_s
    stop = stop or threading.Event()
    try:
        data_plane = importlib.import_module("rehost.agent.main")
    except ModuleNotFoundError:
        data_plane = None
    if data_plane is not None and hasattr(data_plane, "run"):
        data_plane.run(state, heartbeat_interval_s=interval, stop=stop,
                       poll_interval_s=poll_interval_s, live=live)
        return
    control_loop(state, interval_s=interval, stop=stop)


def control_loop(state: AgentState, *, interval_s: float, stop: threading.Event) -> None:
    """Heartbeat and poll every interval until stopped (no data plane: work is only logged)."""
    client = AgentClient(state.endpoint, token=state.agent_token, verify=state.ca_file or True)
    try:
        while not stop.is_set():
            beat_and_poll(client)
            stop.wait(interval_s)
    finally:
        client.close()


def beat_and_poll(client: AgentClient) -> WorkItem | None:
    """One heartbeat + one work poll; errors are logged and retried next round."""
    try:
        client.heartbeat()
        work = client.poll_work()
    except (ClientError, WireError) as exc:
        log.warning("server refused or unreachable: %s", exc)
        return None
    if work.action != "none":
        log.info("work received: %s (job %s)", work.action, work.job_id)
    return work
