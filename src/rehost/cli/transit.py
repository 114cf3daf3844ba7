"""`rehost transit run|list|delete`: transit receivers on other hosts of a region."""

from __future__ import annotations

import logging
import os
import signal
import ssl
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option
from rehost.cli.profile import Profile, ProfileError, config_path, read_profiles
from rehost.client import ClientError, register_transit_host
from rehost.transit.limits import AUTO_RECEIVERS_MAX, MAX_RECEIVERS

if TYPE_CHECKING:
    from rehost.transit.hostmain import HostConfig, HostState, TransitHostRunner

COLUMNS = [("ID", "host_id"), ("NAME", "name"), ("REGION", "region_id"),
           ("DATA ENDPOINT", "data_endpoint"), ("STATE", "state"),
           ("TRANSITS", "active_transits"), ("LAST SEEN", "last_seen_at")]
CODE_COLUMNS = [("ID", "code_id"), ("REGION", "region_id"), ("HOST NAME", "host_name"),
                ("EXPIRES", "expires_at"), ("USED", "used_at"), ("HOST", "host_id")]


def split_hostport(value: str) -> tuple[str, int]:
    """HOST:PORT → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{value!r} is not HOST:PORT / 不是 HOST:PORT 格式")
    return host.strip("[]") or "0.0.0.0", int(port)


def ca_file(profile: str) -> str:
    """REHOST_CA_FILE, else the profile's ca_file ("" = system trust); no AccessKey needed."""
    saved = read_profiles(config_path(os.environ)).get(profile, Profile())
    return os.environ.get("REHOST_CA_FILE") or saved.ca_file


def serving_host(config: HostConfig, state: HostState, profile: str) -> TransitHostRunner:
    """The host process, its API client trusting REHOST_CA_FILE / the profile's ca_file."""
    from rehost.transit.hostmain import TransitHostRunner

    try:
        trusted = ca_file(profile)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        return TransitHostRunner(config, state, verify=trusted or True)
    except (OSError, ssl.SSLError) as exc:
        raise click.ClickException(
            f"Cannot load the CA file {trusted!r} ({exc}); fix REHOST_CA_FILE or the profile's "
            f"ca_file. 无法加载 CA 文件 {trusted!r}；请修改 REHOST_CA_FILE 或配置中的 ca_file。"
        ) from exc


@click.group("transit")
def transit() -> None:
    """Transit hosts: receivers of a region's jobs on hosts other than the server."""


@transit.command("run")
@click.option("--endpoint", envvar="REHOST_ENDPOINT", required=True,
              help="Server URL (default: REHOST_ENDPOINT).")
@click.option("--region", "region_id", required=True, help="Region this host serves.")
@click.option("--data-listen", required=True, help="HOST:PORT of the TLS data listener.")
@click.option("--advertise", required=True,
              help="Host name or IP agents connect to (in the TLS certificate).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory of the transits' target disks and journals.")
@click.option("--image-store", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The region's image store on this host.")
@click.option("--name", default="", help="Host name shown in `rehost transit list`.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("/var/lib/rehost-transit"), show_default=True,
              help="Where the host token and certificate are kept (0600).")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=0.5,
              show_default=True, help="Seconds between work polls.")
@click.option("--registration-code", envvar="REHOST_TRANSIT_CODE", default="",
              help="One-use code from `rehost transit code create` (first run only; "
              "default: REHOST_TRANSIT_CODE).")
@click.option("--receivers", type=click.IntRange(min=0, max=MAX_RECEIVERS), default=0,
              show_default=True,
              help="Processes receiving the data port's jobs; 1 receives in this process, 0 is "
                   f"auto: one per core, up to {AUTO_RECEIVERS_MAX}.")
@profile_option
def run(endpoint: str, region_id: str, data_listen: str, advertise: str, work_dir: Path,
        image_store: Path, name: str, state_dir: Path, poll_interval: float,
        registration_code: str, receivers: int, profile: str) -> None:
    """Register (first time, with a registration code) and serve the region's transits."""
    from rehost.filemode import PRIVATE_UMASK
    from rehost.transit.hostmain import HostConfig, load_or_register
    from rehost.transit.limits import LimitSettingError, limits_from_env

    os.umask(PRIVATE_UMASK)  # disks, journals and images of this host: owner only
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        limits = limits_from_env(os.environ)
    except LimitSettingError as exc:
        raise click.UsageError(str(exc)) from exc
    config = HostConfig(endpoint=endpoint, region_id=region_id,
                        data_listen=split_hostport(data_listen), advertise=advertise,
                        work_dir=work_dir, image_store=image_store, state_dir=state_dir,
                        name=name, poll_interval_s=poll_interval, data_port_limits=limits,
                        receivers=receivers)

    def register(region: str, host_name: str, data_endpoint: str) -> dict[str, object]:
        if not registration_code:
            raise click.UsageError(
                "This host is not registered yet: pass --registration-code (create one with "
                "`rehost transit code create --region R --host-name H`). 该主机尚未注册："
                "请传入 --registration-code（用 `rehost transit code create` 创建）。")
        return register_transit_host(endpoint, code=registration_code, region_id=region,
                                     name=host_name, data_endpoint=data_endpoint,
                                     verify=ca_file(profile) or True)

    try:
        state = load_or_register(config, register)
    except (ProfileError, ClientError) as exc:
        raise click.ClickException(str(exc)) from exc
    host = serving_host(config, state, profile)

    def on_term(signum: int, frame: FrameType | None) -> None:
        host.stop()

    signal.signal(signal.SIGTERM, on_term)
    click.echo(f"transit host {state.host_id} serving region {region_id} "
               f"on {config.data_endpoint}", err=True)
    try:
        host.run()
    except KeyboardInterrupt:
        host.stop()


@transit.command("list")
@click.option("--region", "region_id", default=None, help="Only this region's hosts.")
@out.output_option
@profile_option
def list_hosts(region_id: str | None, output: str, profile: str) -> None:
    """List transit hosts (Online while they heartbeat; Offline after 3 missed beats)."""
    out.show(call(profile, output, lambda c: c.list_transit_hosts(region_id=region_id)), output,
             columns=COLUMNS, items_key="transit_hosts")


@transit.command("delete")
@click.argument("host_id")
@out.output_option
@profile_option
def delete(host_id: str, output: str, profile: str) -> None:
    """Forget a transit host (refused while it holds transits)."""
    out.show(call(profile, output, lambda c: c.delete_transit_host(host_id)), output)


@transit.command("revoke")
@click.argument("host_id")
@out.output_option
@profile_option
def revoke(host_id: str, output: str, profile: str) -> None:
    """Refuse a transit host's token at once (register it again with a new code)."""
    out.show(call(profile, output, lambda c: c.revoke_transit_host(host_id)), output)


@transit.group("code")
def code() -> None:
    """One-use registration codes: the only way a transit host gets a certificate."""


@code.command("create")
@click.option("--region", "region_id", required=True, help="Region the host will serve.")
@click.option("--host-name", required=True,
              help="The name or IP the host advertises (its certificate names only this).")
@click.option("--ttl-hours", type=int, default=None, help="Hours the code stays usable (24).")
@out.output_option
@profile_option
def create_code(region_id: str, host_name: str, ttl_hours: int | None, output: str,
                profile: str) -> None:
    """Create a code; pass it once to `rehost transit run --registration-code`."""
    out.show(call(profile, output, lambda c: c.create_host_code(
        region_id=region_id, host_name=host_name, ttl_hours=ttl_hours)), output)


@code.command("list")
@out.output_option
@profile_option
def list_codes(output: str, profile: str) -> None:
    """List registration codes (used ones name the host that redeemed them)."""
    out.show(call(profile, output, lambda c: c.list_host_codes()), output,
             columns=CODE_COLUMNS, items_key="codes")
