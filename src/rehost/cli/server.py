"""`rehost server`: run the control plane (API, SMC endpoint, console, scheduler)."""

from __future__ import annotations

import os

import click

from rehost import filemode
from rehost.config import DEFAULT_LISTEN, LOG_FORMATS, LOG_LEVELS, SettingsError, load_settings
from rehost.configfile import DEFAULT_CONFIG_PATH, merged_environment
from rehost.transit.limits import AUTO_RECEIVERS_MAX, MAX_RECEIVERS


@click.command("server")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help=f"TOML config file ([server] table) [default: {DEFAULT_CONFIG_PATH} if it "
                   "exists]. Environment variables and flags override it.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Data directory [default: $REHOST_DATA_DIR or ~/.local/share/rehost].")
@click.option("--listen", default=None, help=f"HOST:PORT to listen on [default: {DEFAULT_LISTEN}].")
@click.option("--data-listen", default=None,
              help="HOST:PORT of the transit's TLS data port [default: listen port + 1].")
@click.option("--data-advertise", default=None,
              help="Host name or IP agents use to reach the data port [default: its host].")
@click.option("--receivers", type=click.IntRange(min=0, max=MAX_RECEIVERS), default=None,
              help="Processes receiving the data port's jobs; 1 receives in the server process, "
                   f"0 is auto: one per core, up to {AUTO_RECEIVERS_MAX} "
                   "[default: $REHOST_RECEIVERS or auto].")
@click.option("--tls/--no-tls", "api_tls", default=None,
              help="Serve the API and console over HTTPS with a certificate from the server "
                   "CA (<data-dir>/pki/ca.pem; give it to clients with --ca-file / "
                   "REHOST_CA_FILE) [default: $REHOST_TLS or off].")
@click.option("--file-group", default=None,
              help="Group allowed to read the data dir, database and images (0640/2750) "
                   "[default: $REHOST_FILE_GROUP or none: owner only, 0600/0700].")
@click.option("--image-store-root", "image_store_roots", multiple=True,
              type=click.Path(file_okay=False),
              help="Folder region image stores must lie in (repeatable) "
                   "[default: $REHOST_IMAGE_STORE_ROOTS, else the data dir].")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default=None,
              help="Log lines as text or one JSON object per line (with request ids) "
                   "[default: $REHOST_LOG_FORMAT or text].")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default=None,
              help="Lowest level logged; the access log is at info [default: "
                   "$REHOST_LOG_LEVEL or info].")
def server(config: str | None, data_dir: str | None, listen: str | None,
           data_listen: str | None, data_advertise: str | None, receivers: int | None,
           api_tls: bool | None,
           log_format: str | None, log_level: str | None, file_group: str | None,
           image_store_roots: tuple[str, ...]) -> None:
    """Run the rehost server; the first start prints the admin AccessKey once."""
    from rehost.api.smc.router import build_router  # heavy imports only for this command
    from rehost.console import create_console_router
    from rehost.logformat import configure_logging
    from rehost.server import run_server

    try:
        settings = load_settings(
            env=merged_environment(config, os.environ), data_dir=data_dir, listen=listen,
            data_listen=data_listen, data_advertise=data_advertise, api_tls=api_tls,
            log_format=log_format, log_level=log_level, file_group=file_group,
            image_store_roots=image_store_roots, receivers=receivers)
        filemode.apply(settings.data_dir, group=settings.file_group)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(
            f"cannot prepare the data dir {settings.data_dir}: {exc}. Pick a --data-dir (and "
            f"--file-group) this user may own. 无法准备数据目录：{exc}。请指定当前用户可拥有的 "
            "--data-dir（及 --file-group）。") from exc
    from rehost.db.probe import DatabaseUnwritable

    configure_logging(log_format=settings.log_format, log_level=settings.log_level)
    try:
        run_server(settings, routers=[build_router(), create_console_router()])
    except DatabaseUnwritable as exc:
        raise click.ClickException(f"cannot start the server: {exc}") from exc
    except OSError as exc:  # a port in use, an unwritable data dir: say what to change
        raise click.ClickException(
            f"cannot start the server: {exc}. Pick free ports with --listen / --data-listen, "
            f"or a writable --data-dir. 无法启动服务器：{exc}。请用 --listen / --data-listen "
            "指定空闲端口，或指定可写的 --data-dir。"
        ) from exc
