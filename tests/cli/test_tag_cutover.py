"""`rehost tag add|list|remove` and `rehost job cutover` against a live server."""

from __future__ import annotations

from cli.conftest import rehost
from rehost.client import AgentClient, RehostClient
from smc.inventory import inventory
from smc.live import LiveServer


def _job(live: LiveServer) -> str:
    client = RehostClient(live.endpoint, live.access_key_id, live.access_key_secret)
    try:
        code = client.create_activation_code(count=1)
        agent = AgentClient(live.endpoint)
        source = agent.import_source(code_id=code["code_id"], code=code["code"],
                                     inventory=inventory("cli-tags"))
        agent.close()
        return str(client.create_job({"source_id": source["source_id"]})["job_id"])
    finally:
        client.close()


def test_tag_commands_and_cutover_refusal(live: LiveServer) -> None:
    job_id = _job(live)
    added = rehost("tag", "add", "job", job_id, "team=web", "env=", env=live.env())
    assert added.code == 0, added.stderr
    listed = rehost("tag", "list", "job", "--tag", "team=web", "--output", "json", env=live.env())
    assert sorted((t["resource_id"], t["key"], t["value"]) for t in listed.json()["tags"]) == [
        (job_id, "env", ""), (job_id, "team", "web")]
    bad = rehost("tag", "add", "job", job_id, "aliyun:x=1", env=live.env())
    assert bad.code != 0 and "InvalidParameter.TagKey" in bad.stderr + bad.stdout
    assert rehost("tag", "add", "job", job_id, "novalue", env=live.env()).code == 2
    removed = rehost("tag", "remove", "job", job_id, "--all", env=live.env())
    assert removed.code == 0, removed.stderr
    empty = rehost("tag", "list", "job", job_id, "--output", "json", env=live.env())
    assert empty.json()["tags"] == []
    cut = rehost("job", "cutover", job_id, "--no-sync-data", env=live.env())
    assert cut.code != 0 and "ReplicationJob.InvalidStatus" in cut.stderr + cut.stdout
