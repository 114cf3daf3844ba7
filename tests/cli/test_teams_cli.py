"""`rehost account|user|key` against a live server, and a read-only user's every CLI write
refused with `Forbidden.Unauthorized` (the write commands are enumerated from the CLI tree).

The user and its key are made by the real `rehost` process; the matrix runs the same commands
in-process (click's runner, real HTTP to the live server) to keep 30 runs fast on 2 cores."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from cli.conftest import Result, rehost
from rehost.cli.main import cli
from smc.live import LiveServer

WRITE_VERBS = {"create", "modify", "delete", "start", "pause", "cutover", "disable", "enable",
               "add", "remove", "set-role", "reset-password", "export", "verify", "revoke"}
# local commands (no AccessKey user) and the caller's own password
NOT_REST = {"server", "configure", "agent", "transit run", "backup", "restore", "db",
            "account password"}
WRITES = {
    "activation-code create": ["--count", "1"],
    "activation-code disable": ["at-x"],
    "source modify": ["s-x", "--name", "web-02"],
    "source delete": ["s-x"],
    "region create": ["east-1"],
    "region publish-target delete": ["local", "--target", "libvirt"],
    "job create": ["--source", "s-x", "--region", "local"],
    "job modify": ["j-x", "--name", "job-2"],
    "job start": ["j-x"],
    "job pause": ["j-x"],
    "job cutover": ["j-x"],
    "job delete": ["j-x"],
    "image delete": ["m-x"],
    "image export": ["m-x", "--format", "qcow2"],
    "image verify": ["m-x"],
    "transit delete": ["th-x"],
    "transit revoke": ["th-x"],
    "transit code create": ["--region", "local", "--host-name", "h1"],
    "tag add": ["job", "j-x", "a=b"],
    "tag remove": ["job", "j-x", "--all"],
    "workgroup create": ["wg-x"],
    "workgroup modify": ["w-x", "--name", "wg-y"],
    "workgroup delete": ["w-x"],
    "workgroup add": ["w-x", "s-x"],
    "workgroup remove": ["w-x", "s-x"],
    "user create": ["mallory", "--role", "admin", "--password", "mallory-pass"],
    "user set-role": ["reader", "admin"],
    "user delete": ["reader"],
    "user reset-password": ["reader", "--password", "new-pass-123"],
    "key create": ["--user", "reader"],
    "key disable": ["RHX", "--user", "reader"],
    "key enable": ["RHX", "--user", "reader"],
    "key delete": ["RHX", "--user", "reader"],
}


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found += _commands(command, path + " ")
        else:
            found.append(path)
    return found


def _run(*args: str, env: dict[str, str]) -> Result:
    """`rehost …` in-process with `env` (exit code, stdout, stderr)."""
    done = CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)
    return Result(done.exit_code, done.stdout, done.stderr)


def _is_local(path: str) -> bool:
    return any(path == n or path.startswith(n + " ") for n in NOT_REST)


def test_every_cli_write_is_listed() -> None:
    writes = {p for p in _commands(cli) if p.split()[-1] in WRITE_VERBS and not _is_local(p)}
    assert writes == set(WRITES)


@pytest.fixture(scope="module")
def reader_env(live: LiveServer) -> dict[str, str]:
    """Environment of a read-only user made with `rehost user create` + `rehost key create`."""
    made = rehost("user", "create", "reader", "--role", "read-only", "--password",
                  "reader-pass-1", "-o", "json", env=live.env())
    assert made.code == 0, made.stderr
    key = rehost("key", "create", "--user", "reader", "-o", "json", env=live.env())
    assert key.code == 0, key.stderr
    doc = key.json()
    return {**live.env(), "REHOST_ACCESS_KEY_ID": doc["access_key_id"],
            "REHOST_ACCESS_KEY_SECRET": doc["access_key_secret"]}


@pytest.mark.parametrize("command", sorted(WRITES))
def test_read_only_cli_write_refused(reader_env: dict[str, str], command: str) -> None:
    done = _run(*command.split(), *WRITES[command], env=reader_env)
    assert done.code == 1, (command, done.stdout, done.stderr)
    assert "Forbidden.Unauthorized" in done.stderr and "read-only" in done.stderr, done.stderr


def test_team_commands(live: LiveServer, reader_env: dict[str, str]) -> None:
    me = _run("account", "show", "-o", "json", env=reader_env).json()
    assert (me["user_name"], me["role"]) == ("reader", "read-only")
    users = _run("user", "list", env=live.env())
    assert users.code == 0 and "reader" in users.stdout and "read-only" in users.stdout
    changed = _run("account", "password", "--old-password", "reader-pass-1",
                     "--new-password", "reader-pass-2", env=reader_env)
    assert changed.code == 0 and "Password changed" in changed.stdout, changed.stderr
    keys = _run("key", "list", "--user", "reader", "-o", "json", env=live.env()).json()["keys"]
    key_id = reader_env["REHOST_ACCESS_KEY_ID"]
    assert [k["access_key_id"] for k in keys] == [key_id] and keys[0]["last_used_at"]
    assert _run("key", "disable", key_id, "--user", "reader", env=live.env()).code == 0
    refused = _run("account", "show", env=reader_env)
    assert refused.code == 1 and "InvalidAccessKeyId.NotFound" in refused.stderr
    assert _run("key", "enable", key_id, "--user", "reader", env=live.env()).code == 0
    promoted = _run("user", "set-role", "reader", "operator", "-o", "json", env=live.env())
    assert promoted.json()["role"] == "operator"
    owner = _run("user", "delete", "admin", env=live.env())
    assert owner.code == 1 and "User.OwnerProtected" in owner.stderr
