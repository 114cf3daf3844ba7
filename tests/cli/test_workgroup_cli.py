"""`rehost workgroup …` against a live server (REST /api/v1/workgroups underneath)."""

from __future__ import annotations

from cli.conftest import rehost
from rehost.client import AgentClient, RehostClient
from smc.inventory import inventory
from smc.live import LiveServer


def _source(live: LiveServer, hostname: str) -> str:
    client = RehostClient(live.endpoint, live.access_key_id, live.access_key_secret)
    agent = AgentClient(live.endpoint)
    try:
        code = client.create_activation_code(count=1)
        doc = agent.import_source(code_id=code["code_id"], code=code["code"],
                                  inventory=inventory(hostname))
        return str(doc["source_id"])
    finally:
        agent.close()
        client.close()


def test_workgroup_commands(live: LiveServer) -> None:
    env = live.env()
    source_id = _source(live, "wg-host")
    made = rehost("workgroup", "create", "web-tier", "--description", "front", "-o", "json",
                  env=env)
    assert made.code == 0, made.stderr
    group = made.json()["workgroup_id"]
    dup = rehost("workgroup", "create", "web-tier", env=env)
    assert dup.code == 1 and "Duplicate" in dup.stderr
    added = rehost("workgroup", "add", group, source_id, "-o", "json", env=env).json()
    assert added["source_ids"] == [source_id]
    listed = rehost("workgroup", "list", "--name", "web", env=env)
    assert listed.stdout.splitlines()[0].split()[:2] == ["ID", "NAME"] and group in listed.stdout
    renamed = rehost("workgroup", "modify", group, "--name", "web-2", "-o", "json", env=env)
    assert renamed.json()["name"] == "web-2" and renamed.json()["description"] == "front"
    removed = rehost("workgroup", "remove", group, source_id, "-o", "json", env=env).json()
    assert removed["source_ids"] == []
    assert rehost("workgroup", "modify", group, env=env).code == 2  # nothing to change
    assert rehost("workgroup", "delete", group, env=env).code == 0
    gone = rehost("workgroup", "describe", group, env=env)
    assert gone.code == 1 and "InvalidWorkgroupId.NotFound" in gone.stderr
