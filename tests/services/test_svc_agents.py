"""Activation codes, agent import/heartbeat/poll/error, sources, auth, bootstrap."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from conftest import make_inventory
from rehost.config import Settings
from rehost.domain.errors import (
    InvalidParameter,
    InvalidStatus,
    NotFound,
    Unauthenticated,
)
from rehost.domain.models import ActivationCodeState
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus, JobStatus, SourceState
from rehost.services import (
    accounts,
    activation,
    agents,
    auth,
    bootstrap,
    dataplane,
    jobs,
    runs,
    sources,
)
from rehost.services.context import ServiceContext


def test_activation_codes(ctl_ctx: ServiceContext, ctl_account: Any, ctl_clock: Any) -> None:
    code = activation.create_code(ctl_ctx, ctl_account.id, count=1, ttl_days=1, name="batch1")
    assert code.code.state is ActivationCodeState.UNACTIVATED and len(code.secret) > 20
    for count, ttl in [(0, 30), (1001, 30), (1, 0), (1, 91)]:
        with pytest.raises(InvalidParameter):
            activation.create_code(ctl_ctx, ctl_account.id, count=count, ttl_days=ttl)
    inv = make_inventory()
    with pytest.raises(Unauthenticated):
        agents.import_source(ctl_ctx, code_id=code.code.id, code="wrong", inventory=inv)
    agents.import_source(ctl_ctx, code_id=code.code.id, code=code.secret, inventory=inv)
    with pytest.raises(Unauthenticated):  # used up (count 1)
        agents.import_source(ctl_ctx, code_id=code.code.id, code=code.secret, inventory=inv)
    listed = activation.list_codes(ctl_ctx, ctl_account.id).items
    assert [(c.state, c.registered_count) for c in listed] == [(ActivationCodeState.ACTIVATED, 1)]
    other = activation.create_code(ctl_ctx, ctl_account.id)
    disabled = activation.disable_code(ctl_ctx, ctl_account.id, other.code.id)
    assert disabled.state is ActivationCodeState.DISABLED
    with pytest.raises(Unauthenticated):
        agents.import_source(ctl_ctx, code_id=other.code.id, code=other.secret, inventory=inv)
    ctl_clock.advance(days=2)
    states = {c.id: c.state for c in activation.list_codes(ctl_ctx, ctl_account.id).items}
    assert states[code.code.id] is ActivationCodeState.EXPIRED
    with pytest.raises(NotFound):
        activation.disable_code(ctl_ctx, ctl_account.id, "at-missing")  # type: ignore[arg-type]


@pytest.mark.parametrize("inventory", [
    {"disks": []},
    {"disks": [{"index": 1, "size_bytes": 10}]},
    {"disks": [{"index": 0, "size_bytes": 10, "used_bytes": 11}]},
    {"disks": [{"index": 0, "size_bytes": 0}]},
])
def test_import_refuses_bad_inventory(
    ctl_ctx: ServiceContext, ctl_account: Any, inventory: dict[str, Any]
) -> None:
    code = activation.create_code(ctl_ctx, ctl_account.id)
    with pytest.raises(InvalidParameter):
        agents.import_source(ctl_ctx, code_id=code.code.id, code=code.secret, inventory=inventory)
    assert activation.list_codes(ctl_ctx, ctl_account.id).items[0].registered_count == 0


def test_heartbeat_poll_report_and_offline(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    src = ctl_source(data=[(1, 4, 1)])
    token = src.agent_token
    assert agents.poll_work(ctl_ctx, token).action == "none"
    ctl_clock.advance(seconds=91)
    assert sources.mark_offline_sources(ctl_ctx) >= 1  # the module DB is shared
    state = sources.get_source(ctl_ctx, ctl_account.id, src.source_id).state
    assert state is SourceState.UNAVAILABLE
    fresh = make_inventory(hostname="renamed", data=[(1, 4, 1)])
    beat = agents.heartbeat(ctl_ctx, token, inventory=fresh)
    assert beat.state is SourceState.AVAILABLE and beat.hostname == "renamed"
    job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest(compress_level=2, bandwidth_limit_kbps=100))
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    assert agents.poll_work(ctl_ctx, token).action == "none"  # no transit endpoint yet
    _set_endpoint(ctl_ctx, job.id, "127.0.0.1:7100")
    work = agents.poll_work(ctl_ctx, token)
    assert (work.action, work.transit_endpoint, work.compress_level) == (
        "replicate", "127.0.0.1:7100", 2)
    assert [d.index for d in work.disks] == [0, 1] and work.data_token
    assert agents.heartbeat(ctl_ctx, token).state is SourceState.IN_USE
    dataplane.set_business_status(ctl_ctx, job.id, BusinessStatus.SYNCING)
    runs.pause_job(ctl_ctx, ctl_account.id, job.id)
    assert agents.poll_work(ctl_ctx, token).action == "pause"
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    failed = agents.report_error(ctl_ctx, token, job_id=job.id, code="Agent.ReadError",
                                 message="EIO reading /dev/vda", hint="check the disk")
    assert (failed.status, failed.error_code) == (JobStatus.IN_ERROR, "Agent.ReadError")
    log = jobs.list_events(ctl_ctx, ctl_account.id, job.id)
    assert log[-1].code == "Agent.ReadError" and log[-1].hint == "check the disk"
    with pytest.raises(Unauthenticated):
        agents.heartbeat(ctl_ctx, "not-a-token")


def _set_endpoint(ctx: ServiceContext, job_id: str, endpoint: str) -> None:
    from rehost.services import lookup

    with ctx.db.transaction() as session:
        row = lookup.active_transit(session, job_id)
        assert row is not None
        row.endpoint = endpoint


def test_sources_describe_modify_delete(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    made = [ctl_source(hostname=f"host{i}") for i in range(3)]
    page = sources.describe_sources(ctl_ctx, ctl_account.id, page_size=2)
    assert page.total_count == 3 and len(page.items) == 2
    page2 = sources.describe_sources(ctl_ctx, ctl_account.id, page_size=2, page_number=2)
    assert len(page2.items) == 1
    exact = sources.describe_sources(ctl_ctx, ctl_account.id, source_ids=[made[1].source_id])
    assert [s.name for s in exact.items] == ["host1"]
    assert sources.describe_sources(ctl_ctx, ctl_account.id, name="host2").total_count == 1
    assert sources.describe_sources(ctl_ctx, ctl_account.id,
                                    state=SourceState.IN_USE).total_count == 0
    changed = sources.modify_source(ctl_ctx, ctl_account.id, made[0].source_id, name="db-1",
                                    description="primary db")
    assert (changed.name, changed.description) == ("db-1", "primary db")
    with pytest.raises(InvalidParameter):
        sources.modify_source(ctl_ctx, ctl_account.id, made[0].source_id, name="1bad")
    job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=made[0].source_id,
                          region_id="local", request=JobRequest())
    with pytest.raises(InvalidStatus):
        sources.delete_source(ctl_ctx, ctl_account.id, made[0].source_id)
    sources.delete_source(ctl_ctx, ctl_account.id, made[0].source_id, force=True)
    with pytest.raises(NotFound):
        jobs.get_job(ctl_ctx, ctl_account.id, job.id)
    with pytest.raises(Unauthenticated):
        agents.heartbeat(ctl_ctx, made[0].agent_token)
    other = accounts.create_account(ctl_ctx, name="o-" + ctl_account.name, password="x" * 8)
    with pytest.raises(NotFound):
        sources.delete_source(ctl_ctx, other.id, made[1].source_id)


def test_access_keys_and_login(ctl_ctx: ServiceContext, ctl_account: Any) -> None:
    key = accounts.create_access_key(ctl_ctx, ctl_account.id)
    assert auth.verify_basic(ctl_ctx, key.key.id, key.secret).account_id == ctl_account.id
    assert auth.derive_secret(ctl_ctx, key.key.id) == key.secret
    assert auth.account_of_key(ctl_ctx, key.key.id) == ctl_account.id
    with pytest.raises(Unauthenticated):
        auth.verify_basic(ctl_ctx, key.key.id, key.secret + "x")
    with pytest.raises(Unauthenticated):
        auth.derive_secret(ctl_ctx, "RHNOPE")
    assert auth.login(ctl_ctx, ctl_account.name, "pw-123456").account_id == ctl_account.id
    with pytest.raises(Unauthenticated):
        auth.login(ctl_ctx, ctl_account.name, "wrong-pass")
    rotated = ServiceContext(db=ctl_ctx.db, settings=ctl_ctx.settings, master_key=b"z" * 32)
    with pytest.raises(Unauthenticated):  # a different master key derives another secret
        auth.verify_basic(rotated, key.key.id, auth.derive_secret(rotated, key.key.id))


def test_bootstrap_first_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    ctx = bootstrap.open_context(settings)
    creds = bootstrap.ensure_admin(ctx)
    assert creds is not None
    for name in ("admin-credentials.json", "master.key"):
        assert stat.S_IMODE((settings.data_dir / name).stat().st_mode) == 0o600
    saved = json.loads(creds.path.read_text())
    assert auth.verify_basic(ctx, saved["access_key_id"], saved["access_key_secret"])
    assert bootstrap.ensure_admin(bootstrap.open_context(settings)) is None
    assert (settings.data_dir / "rehost.db").exists()
    ctx.db.dispose()
