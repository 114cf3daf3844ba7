"""REST API via TestClient on SQLite and PostgreSQL: auth, flows, every bad input → 400/404."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import make_inventory
from rehost.api.app import create_app
from rehost.services import accounts
from rehost.services.context import ServiceContext


def basic(key_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic header for an AccessKey."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


@pytest.fixture
def client(ctl_ctx: ServiceContext) -> Iterator[TestClient]:
    """The app on the test context."""
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx)) as c:
        yield c


@pytest.fixture
def auth(ctl_ctx: ServiceContext, ctl_account: Any) -> dict[str, str]:
    """Basic auth for the test account."""
    key = accounts.create_access_key(ctl_ctx, ctl_account.id)
    return basic(key.key.id, key.secret)


def import_source(client: TestClient, auth: dict[str, str], **inv: Any) -> dict[str, Any]:
    """Create an activation code and import a source with it."""
    code = client.post("/api/v1/activation-codes", json={"count": 1}, headers=auth).json()
    r = client.post("/api/v1/agent/import", json={
        "code_id": code["code_id"], "code": code["code"], "inventory": make_inventory(**inv)})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_auth_required(client: TestClient, auth: dict[str, str]) -> None:
    r = client.get("/api/v1/jobs")
    assert r.status_code == 401 and r.json()["code"] == "MissingAuthorization"
    assert r.json()["request_id"] == r.headers["x-request-id"]
    bad = client.get("/api/v1/jobs", headers=basic("RHNOPE", "x"))
    assert bad.status_code == 401 and bad.json()["code"] == "InvalidAccessKeyId.NotFound"
    key_id = base64.b64decode(auth["Authorization"][6:]).decode().split(":")[0]
    wrong = client.get("/api/v1/jobs", headers=basic(key_id, "nope"))
    assert wrong.json()["code"] == "InvalidAccessKeySecret"
    assert client.get("/api/v1/jobs", headers={"Authorization": "Bearer x"}).status_code == 401
    assert client.get("/api/v1/agent/work", headers=auth).status_code == 401
    assert client.get("/api/v1/account", headers=auth).status_code == 200
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "rehost"


def test_job_flow(client: TestClient, auth: dict[str, str]) -> None:
    src = import_source(client, auth, data=[(1, 8, 1)])
    agent = {"Authorization": "Bearer " + src["agent_token"]}
    assert client.post("/api/v1/agent/heartbeat", json={}, headers=agent).json()["state"] == (
        "Available")
    r = client.post("/api/v1/jobs", headers=auth, json={
        "source_id": src["source_id"], "name": "web", "system_disk_size": 12,
        "data_disks": [{"index": 1, "size": 9}], "compress_level": 1, "checksum": True})
    assert r.status_code == 201, r.text
    job = r.json()
    generated = client.post("/api/v1/jobs", headers=auth, json={
        "source_id": import_source(client, auth)["source_id"], "name": "", "image_name": ""})
    assert generated.json()["name"] == generated.json()["job_id"]  # empty name → generated
    assert generated.json()["image_name"] == "rehost-" + generated.json()["job_id"]
    assert (job["status"], job["system_disk_size"], job["data_disks"]) == (
        "Ready", 12, [{"index": 1, "size": 9}])
    started = client.post(f"/api/v1/jobs/{job['job_id']}/start", headers=auth).json()
    assert (started["status"], started["business_status"]) == ("Running", "Preparing")
    listed = client.get("/api/v1/jobs", params={"status": "Running"}, headers=auth).json()
    assert [j["job_id"] for j in listed["jobs"]] == [job["job_id"]]
    pause = client.post(f"/api/v1/jobs/{job['job_id']}/pause", headers=auth)
    assert pause.status_code == 400 and pause.json()["code"] == "ReplicationJob.InvalidStatus"
    assert client.delete(f"/api/v1/jobs/{job['job_id']}", headers=auth).status_code == 400
    work = client.get("/api/v1/agent/work", headers=agent).json()
    assert work["action"] == "none" and work["job_id"] == job["job_id"]
    err = client.post("/api/v1/agent/error", headers=agent, json={
        "job_id": job["job_id"], "code": "Agent.ReadError", "message": "EIO", "hint": "disk"})
    assert err.json()["status"] == "InError"
    events = client.get(f"/api/v1/jobs/{job['job_id']}/events", headers=auth).json()["events"]
    assert events[-1]["code"] == "Agent.ReadError" and events[-1]["hint"] == "disk"
    assert events[-1]["hint_zh"] == ""  # an old agent sends no hint_zh: zh falls back to English
    zh = {**auth, "Accept-Language": "zh-CN"}
    zh_events = client.get(f"/api/v1/jobs/{job['job_id']}/events", headers=zh).json()["events"]
    assert zh_events[-1]["hint"] == "disk"
    later = client.get(f"/api/v1/jobs/{job['job_id']}/events",
                       params={"after_id": events[-1]["id"]}, headers=auth).json()
    assert later["events"] == []
    regions = client.get("/api/v1/regions", headers=auth).json()["regions"]
    assert regions[0]["slots_in_use"] == 1
    assert client.delete(f"/api/v1/jobs/{job['job_id']}", headers=auth).json()["deleted"]
    assert client.get("/api/v1/regions/local", headers=auth).json()["slots_in_use"] == 0


def test_batch_start(client: TestClient, auth: dict[str, str]) -> None:
    made = []
    for _ in range(2):
        src = import_source(client, auth)
        made.append(client.post("/api/v1/jobs", headers=auth,
                                json={"source_id": src["source_id"]}).json()["job_id"])
    r = client.post("/api/v1/jobs/start", headers=auth, json={"job_ids": [*made, "j-nope"]})
    oks = [(x["ok"], x["error"] and x["error"]["code"]) for x in r.json()["results"]]
    assert oks == [(True, None), (True, None), (False, "InvalidJobId.NotFound")]
    r = client.post("/api/v1/jobs/start", headers=auth, json={"job_ids": ["j-x"] * 11})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter.JobIds"
    listed = client.get("/api/v1/jobs?business_status=Preparing", headers=auth).json()
    assert {j["job_id"] for j in listed["jobs"]} == set(made)
    assert client.get("/api/v1/jobs?business_status=Syncing", headers=auth).json()["jobs"] == []
    r = client.get("/api/v1/jobs?business_status=Flying", headers=auth)
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter.BusinessStatus"


BAD_CREATE = [
    ({"name": " "}, "InvalidParameter.Name"),
    ({"source_id": ""}, "InvalidParameter.SourceId"),
    ({"region_id": ""}, "InvalidParameter.RegionId"),
    ({"name": "n" * 129}, "InvalidParameter.Name"),
    ({"name": "1abc"}, "InvalidParameter.Name"),
    ({"name": "a<b>"}, "InvalidParameter.Name"),
    ({"name": "web-http://x"}, "InvalidParameter.Name"),
    ({"description": "d" * 257}, "InvalidParameter.Description"),
    ({"description": "a;b"}, "InvalidParameter.Description"),
    ({"system_disk_size": 0}, "InvalidParameter.SystemDiskSize"),
    ({"system_disk_size": 3}, "InvalidParameter.SystemDiskSize"),
    ({"system_disk_size": 4096}, "InvalidParameter.SystemDiskSize"),
    ({"system_disk_size": "ten"}, "InvalidParameter.SystemDiskSize"),
    ({"data_disks": [{"index": 2, "size": 5}]}, "InvalidParameter.DataDisk.Index"),
    ({"data_disks": [{"index": 1, "size": 0}]}, "InvalidParameter.DataDisk.Size"),
    ({"data_disks": [{"index": 1, "size": 9}, {"index": 1, "size": 9}]},
     "DataDisk.DuplicateIndex"),
    ({"image_name": "x"}, "InvalidParameter.ImageName"),
    ({"execution_mode": "later"}, "InvalidParameter.ExecutionMode"),
    ({"execution_mode": "scheduled"}, "InvalidParameter.ScheduledStartTime"),
    ({"execution_mode": "scheduled", "scheduled_start_time": "2020-01-01T00:00:00Z"},
     "InvalidParameter.ScheduledStartTime"),
    ({"execution_mode": "scheduled", "scheduled_start_time": "+5min"},
     "InvalidParameter.ScheduledStartTime"),
    ({"valid_time": "+3d"}, "InvalidParameter.ValidTime"),
    ({"valid_time": "+100d"}, "InvalidParameter.ValidTime"),
    ({"bandwidth_limit": -1}, "InvalidParameter.NetMode.BandwidthLimit"),
    ({"bandwidth_limit": 1.5}, "InvalidParameter.BandwidthLimit"),
    ({"compress_level": 11}, "InvalidParameter.CompressLevel"),
    ({"checksum": "yes"}, "InvalidParameter.Checksum"),
    ({"bogus_field": 1}, "InvalidParameter.BogusField"),
    ({"region_id": "mars"}, "InvalidRegionId.NotFound"),
    ({"source_id": "s-unknown"}, "InvalidSourceServerId.NotFound"),
]


def _resolve(fields: dict[str, Any], now: Any) -> dict[str, Any]:
    out = dict(fields)
    for key, value in fields.items():
        if isinstance(value, str) and value[:1] == "+":
            unit = {"min": "minutes", "d": "days"}["min" if value.endswith("min") else "d"]
            amount = int(value[1:].rstrip("mind"))
            out[key] = (now + timedelta(**{unit: amount})).isoformat()
    return out


@pytest.mark.parametrize(("fields", "code"), BAD_CREATE, ids=[c for _, c in BAD_CREATE])
def test_bad_create_input(
    client: TestClient, auth: dict[str, str], ctl_clock: Any, fields: dict[str, Any], code: str
) -> None:
    src = import_source(client, auth, data=[(1, 8, 1)])
    body = {"source_id": src["source_id"], **_resolve(fields, ctl_clock.now)}
    r = client.post("/api/v1/jobs", headers=auth, json=body)
    assert r.json()["code"] == code, r.text
    assert r.status_code == (404 if code.endswith("NotFound") else 400)
    assert r.json()["message"] and r.json()["request_id"]
    listed = client.get("/api/v1/jobs", params={"source_id": src["source_id"]}, headers=auth)
    assert listed.json()["total_count"] == 0  # nothing half-created


def test_duplicates_and_chinese_messages(client: TestClient, auth: dict[str, str]) -> None:
    a, b = import_source(client, auth), import_source(client, auth)
    client.post("/api/v1/jobs", headers=auth, json={"source_id": a["source_id"], "name": "dup"})
    r = client.post("/api/v1/jobs", headers={**auth, "Accept-Language": "zh-CN"},
                    json={"source_id": b["source_id"], "name": "dup"})
    assert r.json()["code"] == "ReplicationJobName.Duplicate" and "迁移任务" in r.json()["message"]


def test_other_accounts_resources_are_404(
    client: TestClient, auth: dict[str, str], ctl_ctx: ServiceContext
) -> None:
    src = import_source(client, auth)
    job = client.post("/api/v1/jobs", headers=auth, json={"source_id": src["source_id"]}).json()
    other = accounts.create_account(ctl_ctx, name="x-" + job["job_id"], password="p" * 8)
    key = accounts.create_access_key(ctl_ctx, other.id)
    them = basic(key.key.id, key.secret)
    jid, sid = job["job_id"], src["source_id"]
    for method, url in [("GET", f"/api/v1/jobs/{jid}"), ("DELETE", f"/api/v1/jobs/{jid}"),
                        ("POST", f"/api/v1/jobs/{jid}/start"), ("GET", f"/api/v1/sources/{sid}"),
                        ("DELETE", f"/api/v1/sources/{sid}"), ("GET", "/api/v1/images/m-x")]:
        r = client.request(method, url, headers=them)
        assert r.status_code == 404, (method, url, r.text)
    r = client.post("/api/v1/jobs", headers=them, json={"source_id": sid})
    assert r.status_code == 404 and r.json()["code"] == "InvalidSourceServerId.NotFound"
    assert client.get("/api/v1/jobs", headers=them).json()["total_count"] == 0


def test_sources_codes_regions_images(client: TestClient, auth: dict[str, str]) -> None:
    src = import_source(client, auth, hostname="db-host")
    sid = src["source_id"]
    got = client.get("/api/v1/sources", params={"source_id": sid}, headers=auth).json()
    assert [s["hostname"] for s in got["sources"]] == ["db-host"]
    assert got["sources"][0]["system_disk_size"] == 10
    r = client.patch(f"/api/v1/sources/{sid}", headers=auth, json={"name": "db"})
    assert r.json()["name"] == "db"
    assert client.get("/api/v1/sources", params={"state": "Nope"},
                      headers=auth).json()["code"] == "InvalidParameter.State"
    codes = client.get("/api/v1/activation-codes", headers=auth).json()["activation_codes"]
    assert codes[0]["registered_count"] == 1 and "code" not in codes[0]
    dis = client.post(f"/api/v1/activation-codes/{codes[0]['code_id']}/disable", headers=auth)
    assert dis.json()["state"] == "disabled"
    bad = client.post("/api/v1/activation-codes", json={"count": 0}, headers=auth)
    assert bad.json()["code"] == "InvalidParameter.Count"
    reg = client.post("/api/v1/regions", headers=auth,
                      json={"region_id": "dc-2", "network_quota": 2, "reserved_slots": 1})
    assert reg.status_code == 201 and reg.json()["network_quota"] == 2
    assert reg.json()["adapt_guests"] is False  # default: byte-exact copies
    adapting = client.post("/api/v1/regions", headers=auth,
                           json={"region_id": "dc-3", "adapt_guests": True})
    assert adapting.status_code == 201 and adapting.json()["adapt_guests"] is True
    assert client.get("/api/v1/regions/dc-3", headers=auth).json()["adapt_guests"] is True
    assert client.get("/api/v1/regions/dc-2", headers=auth).json()["adapt_guests"] is False
    assert adapting.json()["adapt_engine"] == "rehost"
    assert adapting.json()["keep_static_network"] is False
    v2v = client.post("/api/v1/regions", headers=auth, json={
        "region_id": "dc-4", "adapt_guests": True, "adapt_engine": "virt-v2v",
        "keep_static_network": True})
    assert v2v.status_code == 201, v2v.text
    assert (v2v.json()["adapt_engine"], v2v.json()["keep_static_network"]) == ("virt-v2v", True)
    unknown = client.post("/api/v1/regions", headers=auth, json={
        "region_id": "dc-5", "adapt_guests": True, "adapt_engine": "v2v"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "InvalidParameter.AdaptEngine"
    assert "'v2v'" in unknown.json()["message"]
    ignored = client.post("/api/v1/regions", headers=auth, json={
        "region_id": "dc-5", "keep_static_network": True})  # without adapt_guests: refused
    assert ignored.json()["code"] == "InvalidParameter.AdaptGuests"
    again = client.post("/api/v1/regions", headers=auth, json={"region_id": "dc-2"})
    assert again.json()["code"] == "RegionId.Duplicate"
    assert client.post("/api/v1/regions", headers=auth,
                       json={"region_id": "Bad_Id"}).json()["code"] == "InvalidParameter.RegionId"
    assert client.get("/api/v1/images", headers=auth).json()["total_count"] == 0
    assert client.delete(f"/api/v1/sources/{sid}", headers=auth).json()["deleted"]


def test_modify_finish_and_images(
    client: TestClient, auth: dict[str, str], ctl_ctx: ServiceContext
) -> None:
    from rehost.domain.ids import JobId
    from rehost.domain.states import BusinessStatus
    from rehost.services import dataplane

    src = import_source(client, auth)
    job = client.post("/api/v1/jobs", headers=auth, json={"source_id": src["source_id"]}).json()
    jid = job["job_id"]
    r = client.patch(f"/api/v1/jobs/{jid}", headers=auth,
                     json={"description": "moved", "compress_level": 4, "image_name": "img-1"})
    assert (r.json()["description"], r.json()["compress_level"]) == ("moved", 4)
    bad = client.patch(f"/api/v1/jobs/{jid}", headers=auth, json={"compress_level": 12})
    assert bad.json()["code"] == "InvalidParameter.CompressLevel"
    client.post(f"/api/v1/jobs/{jid}/start", headers=auth)
    for status in (BusinessStatus.SYNCING, BusinessStatus.PROCESSING):
        dataplane.set_business_status(ctl_ctx, JobId(jid), status)
    frozen = client.patch(f"/api/v1/jobs/{jid}", headers=auth, json={"compress_level": 1})
    assert frozen.json()["code"] == "ReplicationJob.InvalidStatus"
    image = dataplane.finish_job(ctl_ctx, JobId(jid), manifest={"disks": [{"index": 0}]})
    done = client.get(f"/api/v1/jobs/{jid}", headers=auth).json()
    assert done["status"] == "Finished" and done["image_link"] == f"/api/v1/images/{image.id}"
    assert done["end_time"] and done["start_time"]
    got = client.get(done["image_link"], headers=auth).json()
    assert (got["name"], got["manifest"]) == ("img-1", {"disks": [{"index": 0}]})
    assert client.get("/api/v1/images", params={"region_id": "local"},
                      headers=auth).json()["total_count"] >= 1
    assert client.delete(done["image_link"], headers=auth).json()["deleted"]
    assert client.get(done["image_link"], headers=auth).json()["code"] == "InvalidImageId.NotFound"


def test_agent_endpoints_refuse_bad_input(client: TestClient, auth: dict[str, str]) -> None:
    code = client.post("/api/v1/activation-codes", json={"count": 1}, headers=auth).json()
    bad = client.post("/api/v1/agent/import", json={
        "code_id": code["code_id"], "code": "nope", "inventory": make_inventory()})
    assert bad.status_code == 401 and bad.json()["code"] == "InvalidAccessToken"
    missing = client.post("/api/v1/agent/import", json={"code_id": code["code_id"]})
    assert missing.status_code == 400 and missing.json()["code"] == "InvalidParameter.Code"
    src = import_source(client, auth)
    agent = {"Authorization": "Bearer " + src["agent_token"]}
    r = client.post("/api/v1/agent/heartbeat", headers=agent, json={"inventory": {"disks": []}})
    assert r.json()["code"] == "InvalidParameter.Inventory"
    assert client.post("/api/v1/agent/heartbeat", json={}).status_code == 401
    assert client.post("/api/v1/agent/heartbeat", json={},
                       headers={"Authorization": "Bearer x"}).json()["code"] == (
        "InvalidAgentToken")


def test_failure_hint_follows_accept_language(client: TestClient, auth: dict[str, str]) -> None:
    src = import_source(client, auth)
    agent = {"Authorization": "Bearer " + src["agent_token"]}
    job = client.post("/api/v1/jobs", headers=auth, json={
        "source_id": src["source_id"], "name": "zh", "execution_mode": "immediate"}).json()
    err = client.post("/api/v1/agent/error", headers=agent, json={
        "job_id": job["job_id"], "code": "Agent.ReadError", "message": "EIO",
        "hint": "Check the disk.", "hint_zh": "请检查磁盘。"})
    assert err.status_code == 200, err.text
    url = f"/api/v1/jobs/{job['job_id']}"
    zh = {**auth, "Accept-Language": "zh-CN,zh;q=0.9"}
    en_job, zh_job = client.get(url, headers=auth).json(), client.get(url, headers=zh).json()
    assert (en_job["error_hint"], en_job["error_hint_zh"]) == ("Check the disk.", "请检查磁盘。")
    assert (zh_job["error_hint"], zh_job["error_hint_zh"]) == ("请检查磁盘。", "请检查磁盘。")
    listed = client.get("/api/v1/jobs", headers=zh).json()["jobs"]
    assert [j["error_hint"] for j in listed] == ["请检查磁盘。"]
    en_ev = client.get(f"{url}/events", headers=auth).json()["events"][-1]
    zh_ev = client.get(f"{url}/events", headers=zh).json()["events"][-1]
    assert (en_ev["hint"], en_ev["hint_zh"]) == ("Check the disk.", "请检查磁盘。")
    assert zh_ev["hint"] == "请检查磁盘。"


def test_job_adaptation_override_round_trip(
    client: TestClient, auth: dict[str, str], ctl_ctx: ServiceContext
) -> None:
    store = str(ctl_ctx.settings.data_dir / "store-adapting")
    made = client.post("/api/v1/regions", headers=auth, json={
        "region_id": "adapting", "image_store_path": store, "adapt_guests": True})
    assert made.status_code == 201, made.text
    src = import_source(client, auth)
    r = client.post("/api/v1/jobs", headers=auth, json={
        "source_id": src["source_id"], "region_id": "adapting", "adapt_guests": False})
    assert r.status_code == 201, r.text
    job = r.json()
    assert (job["adapt_guests"], job["keep_static_network"]) == (False, None)
    jid = job["job_id"]
    read = client.get(f"/api/v1/jobs/{jid}", headers=auth).json()
    assert (read["adapt_guests"], read["keep_static_network"]) == (False, None)
    # keep_static_network while this job turns adaptation off: 400 naming the field
    for lang, word in (("en", "keep_static_network"), ("zh-CN", "适配")):
        bad = client.patch(f"/api/v1/jobs/{jid}", headers={**auth, "Accept-Language": lang},
                           json={"keep_static_network": True})
        assert bad.status_code == 400 and bad.json()["code"] == (
            "InvalidParameter.KeepStaticNetwork"), bad.text
        assert "keep_static_network" in bad.json()["message"] and word in bad.json()["message"]
    on = client.patch(f"/api/v1/jobs/{jid}", headers=auth,
                      json={"adapt_guests": True, "keep_static_network": True}).json()
    assert (on["adapt_guests"], on["keep_static_network"]) == (True, True)
    unchanged = client.patch(f"/api/v1/jobs/{jid}", headers=auth, json={"compress_level": 2})
    assert (unchanged.json()["adapt_guests"], unchanged.json()["keep_static_network"]) == (
        True, True)  # absent = unchanged
    back = client.patch(f"/api/v1/jobs/{jid}", headers=auth,
                        json={"adapt_guests": None, "keep_static_network": None}).json()
    assert (back["adapt_guests"], back["keep_static_network"]) == (None, None)  # the region's
    # a region that does not adapt: keeping the network needs the job to adapt
    plain = import_source(client, auth)
    refused = client.post("/api/v1/jobs", headers=auth, json={
        "source_id": plain["source_id"], "keep_static_network": True})
    assert refused.status_code == 400
    assert refused.json()["code"] == "InvalidParameter.KeepStaticNetwork"
    typed = client.post("/api/v1/jobs", headers=auth, json={
        "source_id": plain["source_id"], "adapt_guests": "yes"})
    assert typed.status_code == 400 and typed.json()["code"] == "InvalidParameter.AdaptGuests"
    ok = client.post("/api/v1/jobs", headers=auth, json={
        "source_id": plain["source_id"], "adapt_guests": True, "keep_static_network": True})
    assert ok.status_code == 201 and ok.json()["keep_static_network"] is True
