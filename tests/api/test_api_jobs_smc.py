"""REST: POST /jobs with client_token (idempotent create) and POST /jobs/{id}/cutover."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.test_api_rest import auth, client, import_source  # noqa: F401  (fixtures)


def test_create_with_client_token_is_idempotent(client: TestClient,  # noqa: F811
                                                auth: dict[str, str]) -> None:  # noqa: F811
    source = import_source(client, auth)
    body = {"source_id": source["source_id"], "name": "rest-token", "client_token": "tok-1"}
    first = client.post("/api/v1/jobs", json=body, headers=auth)
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/jobs", json=body, headers=auth)
    assert again.status_code == 201 and again.json()["job_id"] == first.json()["job_id"]
    other = client.post("/api/v1/jobs", json={**body, "name": "rest-other"}, headers=auth)
    assert other.status_code == 400 and other.json()["code"] == "IdempotentParameterMismatch"
    listed = client.get("/api/v1/jobs", params={"source_id": source["source_id"]}, headers=auth)
    assert listed.json()["total_count"] == 1


def test_cutover_of_a_ready_or_one_time_job_is_refused(client: TestClient,  # noqa: F811
                                                       auth: dict[str, str]) -> None:  # noqa: F811
    source = import_source(client, auth)
    job = client.post("/api/v1/jobs", json={"source_id": source["source_id"]}, headers=auth).json()
    r = client.post(f"/api/v1/jobs/{job['job_id']}/cutover", json={"sync_data": False},
                    headers=auth)
    assert r.status_code == 400 and r.json()["code"] == "ReplicationJob.InvalidStatus"
    bad = client.post(f"/api/v1/jobs/{job['job_id']}/cutover", json={"sync_data": "yes"},
                      headers=auth)
    assert bad.status_code == 400


def test_tags_through_rest(client: TestClient, auth: dict[str, str]) -> None:  # noqa: F811
    source = import_source(client, auth)
    body = {"source_id": source["source_id"], "tags": [{"key": "team", "value": "web"}]}
    job = client.post("/api/v1/jobs", json=body, headers=auth).json()
    listed = client.get("/api/v1/tags", params={"resource_type": "ReplicationJob",
                                                "resource_id": job["job_id"]}, headers=auth)
    assert [(t["key"], t["value"]) for t in listed.json()["tags"]] == [("team", "web")]
    hit = client.get("/api/v1/jobs", params={"tag": "team=web"}, headers=auth).json()
    assert [j["job_id"] for j in hit["jobs"]] == [job["job_id"]]
    miss = client.get("/api/v1/jobs", params={"tag": "nosuch"}, headers=auth).json()
    assert miss["total_count"] == 0
    r = client.post("/api/v1/tags", json={"resource_type": "sourceserver",
                                          "resource_ids": [source["source_id"]],
                                          "tags": [{"key": "acs:x", "value": "1"}]}, headers=auth)
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter.TagKey"
    done = client.post("/api/v1/tags/untag", json={"resource_type": "replicationjob",
                                                   "resource_ids": [job["job_id"]],
                                                   "all": True}, headers=auth)
    assert done.status_code == 200
    assert client.get("/api/v1/jobs", params={"tag": "team"}, headers=auth).json()[
        "total_count"] == 0
