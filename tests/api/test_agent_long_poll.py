"""GET /agent/work?wait=…&known=…: held until the answer changes, so work reaches the agent
at once instead of after a poll interval; the agent loop falls back to polling on a timer
against a server that answers at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api_rest import basic, import_source

from rehost.agent.main import AgentLoop
from rehost.api.app import create_app
from rehost.domain.models import DiskProgress, EventLevel
from rehost.domain.rules import JobRequest
from rehost.protocol.etag import etag_of
from rehost.protocol.work import WorkItem
from rehost.services import accounts, agents, dataplane, jobs, runs
from rehost.services.context import ServiceContext


@pytest.fixture
def client(ctl_ctx: ServiceContext) -> Iterator[TestClient]:
    """The app on the test context."""
    with TestClient(create_app(ctl_ctx.settings, context=ctl_ctx)) as c:
        yield c


@pytest.fixture
def agent(client: TestClient, ctl_ctx: ServiceContext, ctl_account: Any) -> dict[str, Any]:
    """An imported source: its id and the agent's Bearer header."""
    key = accounts.create_access_key(ctl_ctx, ctl_account.id)
    doc = import_source(client, basic(key.key.id, key.secret))
    return {"source_id": doc["source_id"],
            "headers": {"Authorization": f"Bearer {doc['agent_token']}"}}


def _poll(client: TestClient, agent: dict[str, Any], **params: Any) -> Any:
    return client.get("/api/v1/agent/work", params=params, headers=agent["headers"])


def test_a_held_poll_answers_as_soon_as_a_job_starts(
    client: TestClient, agent: dict[str, Any], ctl_ctx: ServiceContext, ctl_account: Any
) -> None:
    first = _poll(client, agent)
    assert first.status_code == 200
    # the agent tags what it parsed the same way: its `known` is the server's ETag
    assert first.headers["ETag"] == etag_of(WorkItem.from_json(first.json()).to_json())

    def start_later() -> None:
        time.sleep(0.5)
        job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=agent["source_id"],
                              region_id="local", request=JobRequest())
        runs.start_job(ctl_ctx, ctl_account.id, job.id)

    starter = threading.Thread(target=start_later)
    started = time.monotonic()
    starter.start()
    held = _poll(client, agent, wait=15, known=first.headers["ETag"])
    elapsed = time.monotonic() - started
    starter.join()
    assert held.status_code == 200 and held.json()["job_id"], held.text
    assert held.headers["ETag"] != first.headers["ETag"]
    assert 0.4 < elapsed < 10, f"answered after {elapsed:.2f} s, not when the job started"


def test_an_unchanged_answer_is_held_for_the_wait_and_bad_waits_are_refused(
    client: TestClient, agent: dict[str, Any]
) -> None:
    tag = _poll(client, agent).headers["ETag"]
    started = time.monotonic()
    same = _poll(client, agent, wait=1.0, known=tag)
    assert time.monotonic() - started >= 0.9 and same.headers["ETag"] == tag
    started = time.monotonic()
    other = _poll(client, agent, wait=10, known="an-older-answer")
    assert time.monotonic() - started < 5 and other.headers["ETag"] == tag  # differs: at once
    for bad in ({"wait": -1}, {"wait": 21}, {"wait": "soon"}, {"known": "x" * 65}):
        refused = _poll(client, agent, **bad)
        assert refused.status_code in (400, 422), (bad, refused.text)
        assert next(iter(bad)).capitalize() in refused.text


def test_sync_progress_and_plain_heartbeats_wake_no_held_poll(
    client: TestClient, agent: dict[str, Any], ctl_ctx: ServiceContext, ctl_account: Any
) -> None:
    """Ten syncing jobs write progress many times a second and builds log a line per step;
    none of it is an agent's work."""
    token = agent["headers"]["Authorization"].removeprefix("Bearer ")
    commits = ctl_ctx.db.commits
    job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=agent["source_id"],
                          region_id="local", request=JobRequest())
    before = commits.value
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    assert commits.value > before  # a started job is work: held polls read again
    tag = _poll(client, agent).headers["ETag"]
    quiet = commits.value
    agents.heartbeat(ctl_ctx, token)
    dataplane.update_progress(ctl_ctx, job.id, [DiskProgress(0, 1 << 30, 1 << 20, 1e6, 9.0)],
                              log_milestones=True)
    dataplane.log_event(ctl_ctx, job.id, level=EventLevel.INFO, code="Image.Building",
                        message_en="Building the image.", message_zh="正在构建镜像。")
    assert commits.value == quiet
    assert _poll(client, agent).headers["ETag"] == tag  # and the answer is indeed the same
    stored = dataplane.task_by_job(ctl_ctx, job.id).job.progress.bytes_done
    assert stored == 1 << 20  # the progress itself was committed


class ImpatientServer:
    """An older server: ignores wait and answers at once."""

    def __init__(self) -> None:
        self.polls: list[float] = []

    def heartbeat(self, *, inventory: dict[str, Any] | None = None) -> dict[str, Any]:
        return {}

    def poll_work(self, *, wait_s: float = 0.0, known: str = "") -> WorkItem:
        self.polls.append(wait_s)
        return WorkItem(action="none")

    def report_error(self, **_: Any) -> dict[str, Any]:
        return {}


def test_the_agent_polls_on_a_timer_when_the_server_does_not_hold(tmp_path: Any) -> None:
    server = ImpatientServer()
    loop = AgentLoop(state=None, api=server, heartbeat_interval_s=30)  # type: ignore[arg-type]
    assert loop.step() is True  # the first poll fetches the tag: long poll next
    assert loop.step() is False  # asked to hold 5 s, answered at once: an older server
    assert loop.step() is False and server.polls == [0.0, 5.0, 0.0]
