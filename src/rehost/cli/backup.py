"""`rehost backup`, `rehost restore` and `rehost db upgrade`: run on the server host."""

from __future__ import annotations

import os
from pathlib import Path

import click

from rehost.config import Settings, SettingsError, load_settings
from rehost.configfile import DEFAULT_CONFIG_PATH, merged_environment
from rehost.domain.errors import RehostError

config_option = click.option(
    "--config", "config", type=click.Path(dir_okay=False), default=None,
    help=f"The server's TOML config file [default: {DEFAULT_CONFIG_PATH} if it exists].")
data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None,
    help="The server's data directory [default: $REHOST_DATA_DIR or ~/.local/share/rehost].")


def server_settings(config: str | None, data_dir: str | None) -> Settings:
    """The same settings `rehost server` would use (file, env, then the flag)."""
    try:
        return load_settings(env=merged_environment(config, os.environ), data_dir=data_dir)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


def _fail(exc: RehostError) -> click.ClickException:
    return click.ClickException(f"{exc.message} {exc.message_zh}")


@click.command("backup")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Archive to write (.tar.gz, mode 0600: it holds the master key).")
@click.option("--include-images/--no-images", default=False, show_default=True,
              help="Also archive every region's image store (can be large).")
@config_option
@data_dir_option
def backup(output: Path, include_images: bool, config: str | None,
           data_dir: str | None) -> None:
    """Back up the database, master key, PKI and admin credentials (server may keep running)."""
    from rehost.backup import create_backup

    settings = server_settings(config, data_dir)
    try:
        summary = create_backup(settings, output, include_images=include_images)
    except RehostError as exc:
        raise _fail(exc) from exc
    click.echo(f"backup written to {output}: {summary.database} database at schema "
               f"{summary.revision}, {', '.join(summary.secrets) or 'no secret files'}, "
               f"{len(summary.image_stores)} image store(s)")
    if settings.master_key is not None:
        click.echo("note: the master key comes from REHOST_MASTER_KEY and is not in the "
                   "archive; keep it with the backup.", err=True)


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing database and secret files.")
@config_option
@data_dir_option
def restore(archive: Path, force: bool, config: str | None, data_dir: str | None) -> None:
    """Restore a `rehost backup` archive; stop the server first, start it after."""
    from rehost.restore import restore_backup

    settings = server_settings(config, data_dir)
    try:
        doc = restore_backup(settings, archive, force=force)
    except RehostError as exc:
        raise _fail(exc) from exc
    click.echo(f"restored {doc['database']} database (schema {doc['revision']}) into "
               f"{settings.data_dir}; `rehost server` (or `rehost db upgrade`) migrates it")


@click.group("db")
def db() -> None:
    """The server's database."""


@db.command("upgrade")
@config_option
@data_dir_option
def upgrade(config: str | None, data_dir: str | None) -> None:
    """Apply pending schema migrations (the server also does it at start)."""
    from rehost.db.engine import Database
    from rehost.db.migrate import upgrade as migrate
    from rehost.restore import current_revision
    from rehost.services.bootstrap import database_url

    settings = server_settings(config, data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(database_url(settings))
    try:
        before = current_revision(database)
        migrate(database)
        click.echo(f"database schema {before or '(empty)'} -> {current_revision(database)}")
    finally:
        database.dispose()
