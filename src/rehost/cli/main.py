"""The `rehost` command: wires the per-noun command groups."""

from __future__ import annotations

import click

import rehost.cli.image_publish  # registers `image publish|launch|…`, `region publish-target`
import rehost.cli.job_watch  # noqa: F401  (registers `job logs` and `job wait`)
from rehost import __version__
from rehost.cli.activation import activation_code
from rehost.cli.agent import agent
from rehost.cli.backup import backup, db, restore
from rehost.cli.configure import configure
from rehost.cli.image import image
from rehost.cli.job import job
from rehost.cli.key import key
from rehost.cli.region import region
from rehost.cli.server import server
from rehost.cli.source import source
from rehost.cli.tag import tag
from rehost.cli.transit import transit
from rehost.cli.user import account, user
from rehost.cli.workgroup import workgroup


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rehost")
def cli() -> None:
    """rehost — self-hosted server migration center (SMC-compatible).

    Credentials come from REHOST_ENDPOINT, REHOST_ACCESS_KEY_ID and REHOST_ACCESS_KEY_SECRET,
    else from the profile written by `rehost configure`.
    """


for command in (server, configure, activation_code, agent, source, region, job, image,
                transit, backup, restore, db, tag, workgroup, account, user, key):
    cli.add_command(command)


def main() -> None:
    """Entry point of the `rehost` console script."""
    cli(prog_name="rehost")


if __name__ == "__main__":
    main()
