"""The publish commands refuse options that do not apply instead of ignoring them."""

from __future__ import annotations

from click.testing import CliRunner

from rehost.cli.main import cli


def test_options_of_the_other_target_are_refused() -> None:
    done = CliRunner().invoke(cli, ["region", "publish-target", "set", "local", "--target",
                                    "libvirt", "--uri", "qemu:///system", "--endpoint",
                                    "http://127.0.0.1:9292"])
    assert done.exit_code == 2 and "--endpoint do not apply to --target libvirt" in done.output


def test_launch_revert_takes_no_machine_size() -> None:
    done = CliRunner().invoke(cli, ["image", "launch", "m-1", "--revert", "--vcpus", "2"])
    assert done.exit_code == 2 and "--revert takes no --vcpus" in done.output


def test_every_publish_command_has_help() -> None:
    for args in (["image", "publish"], ["image", "publications"], ["image", "unpublish"],
                 ["image", "launch"], ["region", "publish-target", "set"],
                 ["region", "publish-target", "list"], ["region", "publish-target", "delete"]):
        done = CliRunner().invoke(cli, [*args, "--help"])
        assert done.exit_code == 0 and "Usage:" in done.output, args
