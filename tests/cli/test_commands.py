"""The real `rehost` commands against a live server: output shapes, exit codes, agent import."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from cli.conftest import rehost
from diskfactory import BuiltDisk
from rehost.client import AgentClient
from smc.live import LiveServer


def import_image_source(live: LiveServer, disk: BuiltDisk, state_dir: Path) -> str:
    """Create a code and import the image file as a source with `rehost agent import`."""
    env = live.env()
    code = rehost("activation-code", "create", "--count", "5", "--output", "json", env=env)
    assert code.code == 0, code.stderr
    doc = code.json()
    done = rehost("agent", "import", "--endpoint", live.endpoint, "--code",
                  f"{doc['code_id']}:{doc['code']}", "--system-disk", str(disk.path),
                  "--state-dir", str(state_dir), env=env)
    assert done.code == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("Import Source Server [s-") and line.endswith("] Successfully!")
    return line.split("[", 1)[1].split("]", 1)[0]


def test_agent_import_writes_private_state(live: LiveServer, gpt_system_disk: BuiltDisk,
                                           tmp_path: Path) -> None:
    source_id = import_image_source(live, gpt_system_disk, tmp_path / "state")
    state = tmp_path / "state" / "state.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    shown = rehost("source", "describe", source_id, "--output", "json", env=live.env())
    doc = shown.json()
    assert (doc["source_id"], doc["state"], doc["disks"][0]["index"]) == (source_id,
                                                                         "Available", 0)
    listed = rehost("source", "list", "--output", "json", env=live.env()).json()
    assert source_id in [s["source_id"] for s in listed["sources"]]
    table = rehost("source", "list", env=live.env())
    assert table.stdout.splitlines()[0].split()[:3] == ["ID", "NAME", "STATE"]


def test_job_commands_and_exit_codes(live: LiveServer, gpt_system_disk: BuiltDisk,
                                     tmp_path: Path) -> None:
    env = live.env()
    source_id = import_image_source(live, gpt_system_disk, tmp_path / "state")
    created = rehost("job", "create", "--source", source_id, "--region", "local", "--name",
                     "cli-job", "--compress-level", "3", "--output", "json", env=env)
    assert created.code == 0, created.stderr
    job = created.json()
    assert (job["status"], job["name"], job["compress_level"]) == ("Ready", "cli-job", 3)
    job_id = job["job_id"]
    renamed = rehost("job", "modify", job_id, "--name", "cli-job-2", "--output", "json",
                     env=env)
    assert renamed.json()["name"] == "cli-job-2"
    started = rehost("job", "start", job_id, "--output", "json", env=env).json()
    assert (started["status"], started["business_status"]) == ("Running", "Preparing")
    paused = rehost("job", "pause", job_id, "--output", "json", env=env)
    assert paused.code == 1
    assert paused.json()["code"] == "ReplicationJob.InvalidStatus"
    assert set(paused.json()) == {"code", "message", "request_id"}
    human = rehost("job", "delete", job_id, env=env)
    assert human.code == 1 and "Error: ReplicationJob.InvalidStatus" in human.stderr
    waited = rehost("job", "wait", job_id, "--timeout", "0.5", "--interval", "0.1",
                    "--output", "json", env=env)
    assert (waited.code, waited.json()["timed_out"]) == (2, True)
    logs = rehost("job", "logs", job_id, "--output", "json", env=env)
    assert logs.code == 0 and logs.json()["job_id"] == job_id


def test_job_wait_exits_1_when_the_job_fails(live: LiveServer, gpt_system_disk: BuiltDisk,
                                             tmp_path: Path) -> None:
    env = live.env()
    state_dir = tmp_path / "state"
    source_id = import_image_source(live, gpt_system_disk, state_dir)
    job_id = rehost("job", "create", "--source", source_id, "--region", "local",
                    "--mode", "immediate", "--output", "json", env=env).json()["job_id"]
    from rehost.cli import agent_state

    token = agent_state.load(state_dir).agent_token
    agent = AgentClient(live.endpoint, token=token)
    agent.report_error(job_id=job_id, code="Agent.DiskUnreadable", message="disk vanished",
                       hint="Reattach the disk.", hint_zh="请重新挂载磁盘。")
    agent.close()
    waited = rehost("job", "wait", job_id, "--timeout", "10", env=env)
    assert waited.code == 1 and "InError" in waited.stdout
    logs = rehost("job", "logs", job_id, "--follow", "--interval", "0.1", env=env)
    assert logs.code == 0 and "Agent.DiskUnreadable" in logs.stdout  # follow ends at InError
    assert "→ Reattach the disk." in logs.stdout and "请重新挂载磁盘" not in logs.stdout
    zh_logs = rehost("job", "logs", job_id, env={**env, "LANG": "zh_CN.UTF-8"})
    assert zh_logs.code == 0 and "→ 请重新挂载磁盘。" in zh_logs.stdout


def test_refusals_exit_non_zero_with_code(live: LiveServer) -> None:
    missing = rehost("job", "describe", "j-nosuchjob", "--output", "json", env=live.env())
    assert (missing.code, missing.json()["code"]) == (1, "InvalidJobId.NotFound")
    chinese = rehost("job", "describe", "j-nosuchjob", env={**live.env(), "LANG": "zh_CN.UTF-8"})
    assert chinese.code == 1 and "不存在" in chinese.stderr
    bad_key = {**live.env(), "REHOST_ACCESS_KEY_SECRET": "wrong"}
    denied = rehost("region", "list", env=bad_key)
    assert denied.code == 1 and "Error: " in denied.stderr
    no_creds = {k: v for k, v in live.env().items() if not k.startswith("REHOST_")}
    no_creds["REHOST_CONFIG"] = "/nonexistent/rehost.json"
    unconfigured = rehost("source", "list", "--output", "json", env=no_creds)
    assert (unconfigured.code, unconfigured.json()["code"]) == (1, "MissingCredentials")


def test_configure_profile_region_and_image(live: LiveServer, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REHOST_")}
    env["REHOST_CONFIG"] = str(config)
    saved = rehost("configure", "--endpoint", live.endpoint, "--access-key-id",
                   live.access_key_id, "--access-key-secret", live.access_key_secret, env=env)
    assert saved.code == 0, saved.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    store = live.data_dir / "store-east"  # image stores must be inside the server's roots
    created = rehost("region", "create", "east-1", "--name", "East", "--image-store",
                     str(store), "--network-quota", "3", "--output", "json", env=env)
    assert created.code == 0, created.stderr
    assert (created.json()["region_id"], created.json()["network_quota"]) == ("east-1", 3)
    assert created.json()["accept_failed_checks"] is False
    assert created.json()["adapt_guests"] is False
    lenient = rehost("region", "create", "east-2", "--image-store",
                     str(live.data_dir / "store-east-2"),
                     "--accept-failed-checks", "--adapt-guests", "--output", "json", env=env)
    assert lenient.code == 0 and lenient.json()["accept_failed_checks"] is True, lenient.stderr
    assert lenient.json()["adapt_guests"] is True
    v2v = rehost("region", "create", "east-3", "--image-store", str(live.data_dir / "store-e3"),
                 "--adapt-guests", "--adapt-engine", "virt-v2v", "--keep-static-network",
                 "--output", "json", env=env)
    assert v2v.code == 0, v2v.stderr
    assert (v2v.json()["adapt_engine"], v2v.json()["keep_static_network"]) == ("virt-v2v", True)
    bogus = rehost("region", "create", "east-4", "--adapt-guests", "--adapt-engine", "v2v",
                   env=env)
    assert bogus.code != 0 and "'v2v' is not one of 'rehost', 'virt-v2v'" in bogus.stderr
    regions = rehost("region", "list", "--output", "json", env=env).json()["regions"]
    assert {"local", "east-1", "east-2"} <= {r["region_id"] for r in regions}
    images = rehost("image", "list", "--output", "json", env=env).json()
    assert images["images"] == [] and images["total_count"] == 0


def test_agent_run_keeps_heartbeating(live: LiveServer, gpt_system_disk: BuiltDisk,
                                      tmp_path: Path) -> None:
    import subprocess
    import sys

    state_dir = tmp_path / "state"
    source_id = import_image_source(live, gpt_system_disk, state_dir)
    before = rehost("source", "describe", source_id, "--output", "json", env=live.env())
    exe = Path(sys.executable).with_name("rehost")
    proc = subprocess.Popen([str(exe), "agent", "run", "--state-dir", str(state_dir),
                             "--heartbeat-interval", "0.3"], env=live.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        after = before.json()["heartbeat_time"]
        while after == before.json()["heartbeat_time"] and time.monotonic() < deadline:
            time.sleep(0.5)
            shown = rehost("source", "describe", source_id, "--output", "json", env=live.env())
            after = shown.json()["heartbeat_time"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert after != before.json()["heartbeat_time"]
