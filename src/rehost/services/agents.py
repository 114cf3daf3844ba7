"""Agent-facing use cases: import with an activation code, heartbeat, poll work, report errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from rehost import messages
from rehost.db import convert
from rehost.db.tables import ActivationCodeRow, JobRow, SourceRow, TransitSlotRow
from rehost.domain import errors, rules
from rehost.domain.ids import PREFIX_SOURCE, AccountId, JobId, SourceId
from rehost.domain.models import GIB, Job, Source
from rehost.domain.states import JobStatus, SourceState
from rehost.protocol.work import DiskTask, WorkItem
from rehost.services import crypto, dataplane, lookup, transits
from rehost.services.auth import bad_agent_token, verify_agent_token
from rehost.services.context import ServiceContext

INVENTORY_MAX_DISKS = 17


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What `rehost agent import` receives (the token is shown once)."""

    source_id: SourceId
    agent_token: str
    server_ca_pem: str


def _bad_code() -> errors.Unauthenticated:
    return errors.Unauthenticated(
        "InvalidAccessToken",
        "The activation code is wrong, expired, disabled or used up; create a new one.",
        "激活码错误、已过期、已禁用或已用完；请新建激活码。",
    )


def check_inventory(inventory: dict[str, Any]) -> dict[str, Any]:
    """Validate the agent's inventory JSON shape (a system disk with sizes is required)."""
    disks = convert.source_disks(inventory)
    system = next((d for d in disks if d.index == 0), None)
    if (system is None or system.size_bytes <= 0 or len(disks) > INVENTORY_MAX_DISKS
            or len({d.index for d in disks}) != len(disks)
            or any(not 0 <= d.used_bytes <= d.size_bytes or d.index < 0 for d in disks)):
        raise errors.invalid(
            "Inventory", "The inventory must list a system disk (index 0) and at most 16 data "
            "disks, each with size_bytes > 0 and 0 ≤ used_bytes ≤ size_bytes.",
            "磁盘清单须包含系统盘（序号 0）及最多 16 块数据盘，且每块盘 size_bytes > 0、"
            "0 ≤ used_bytes ≤ size_bytes。",
        )
    _check_preflight(inventory.get("preflight"))
    return inventory


PREFLIGHT_LEVELS = ("OK", "WARN", "FAIL")
PREFLIGHT_MAX_CHECKS = 64


def _check_preflight(report: Any) -> None:
    """The agent's pre-flight report: a short list of {name, level, detail} (optional)."""
    if report is None:
        return
    if not isinstance(report, list) or len(report) > PREFLIGHT_MAX_CHECKS or not all(
            isinstance(c, dict) and set(c) == {"name", "level", "detail"}
            and c["level"] in PREFLIGHT_LEVELS and isinstance(c["name"], str)
            and isinstance(c["detail"], str) and len(c["name"]) <= 256
            and len(c["detail"]) <= 1024 for c in report):
        raise errors.invalid(
            "Inventory.Preflight", "preflight must be a list of at most 64 checks, each "
            "{name, level, detail} with level OK, WARN or FAIL.",
            "preflight 须为最多 64 项检查的列表，每项为 {name, level, detail}，"
            "level 取 OK、WARN 或 FAIL。")


def import_source(
    ctx: ServiceContext, *, code_id: str, code: str, inventory: dict[str, Any],
    name: str | None = None,
) -> ImportResult:
    """Register a source with an activation code; return its id, agent token and server CA."""
    check_inventory(inventory)
    label = name or str(inventory.get("hostname") or "") or "source"
    if name:
        rules.check_name(name, field="Name", what_en="source name", what_zh="迁移源名称")
    now, token, source_id = ctx.now(), crypto.new_token(), SourceId(ctx.new_id(PREFIX_SOURCE))
    with ctx.db.transaction() as session:
        row = session.get(ActivationCodeRow, code_id, with_for_update=True)
        if (row is None or row.disabled or row.expires_at <= now
                or row.registered_count >= row.count
                or not crypto.equal(crypto.sha256_hex(code), row.code_hash)):
            raise _bad_code()
        row.registered_count += 1
        session.add(SourceRow(
            id=source_id, account_id=row.account_id, name=label[:128], description="",
            state=SourceState.AVAILABLE.value, error_code="", status_info="", inventory=inventory,
            agent_token_hash=crypto.sha256_hex(token), activation_code_id=row.id,
            created_at=now, last_heartbeat_at=now,
        ))
    return ImportResult(source_id, token, ctx.settings.read_server_ca())


def heartbeat(
    ctx: ServiceContext, token: str, *, inventory: dict[str, Any] | None = None
) -> Source:
    """Record a beat (and a fresh inventory): Available, or InUse while a job runs."""
    if inventory is not None:
        check_inventory(inventory)
    # one transaction: this runs ~33 times a second; only a new inventory (the disks an agent's
    # work names) wakes the long polls
    with ctx.db.transaction(wakes_polls=inventory is not None) as session:
        row = session.scalars(select(SourceRow).where(
            SourceRow.agent_token_hash == crypto.sha256_hex(token)).with_for_update()).first()
        if row is None or row.state == SourceState.DELETING:
            raise bad_agent_token()
        running = session.scalars(select(JobRow.id).where(
            JobRow.source_id == row.id, JobRow.status == JobStatus.RUNNING.value)).first()
        row.state = (SourceState.IN_USE if running else SourceState.AVAILABLE).value
        row.error_code, row.status_info = "", ""
        row.last_heartbeat_at = ctx.now()
        if inventory is not None:  # the import's pre-flight report stays until a new one
            kept = row.inventory.get("preflight")
            row.inventory = inventory if "preflight" in inventory or kept is None else {
                **inventory, "preflight": kept}
        return convert.source(row)


def _disk_tasks(src: Source, job: JobRow) -> tuple[DiskTask, ...]:
    by_index = {d.index: d for d in src.disks}
    targets = [(0, job.system_disk_size_gib)]
    targets += [(int(d["index"]), int(d["size_gib"])) for d in job.data_disks]
    return tuple(
        DiskTask(index=i, size_bytes=by_index[i].size_bytes, target_size_bytes=g * GIB,
                 path=by_index[i].path)
        for i, g in targets if i in by_index
    )


def poll_work(ctx: ServiceContext, token: str) -> WorkItem:
    """The source's current instruction: replicate (Running with a transit), pause, or none."""
    account_id, source_id = verify_agent_token(ctx, token)
    with ctx.db.read() as session:
        src = lookup.source_row(session, account_id, source_id)
        job = session.scalars(select(JobRow).where(
            JobRow.source_id == source_id,
            JobRow.status.in_([JobStatus.RUNNING.value, JobStatus.STOPPED.value]),
        )).first()
        if job is None:
            return WorkItem(action="none")
        if job.status == JobStatus.STOPPED:
            return WorkItem(action="pause", job_id=JobId(job.id))
        transit: TransitSlotRow | None = lookup.active_transit(session, job.id)
        if transit is None or not transit.endpoint:
            return WorkItem(action="none", job_id=JobId(job.id))
        return WorkItem(
            action="replicate", job_id=JobId(job.id), transit_endpoint=transit.endpoint,
            data_token=transits.data_token(ctx, transit),
            disks=_disk_tasks(convert.source(src), job), compress_level=job.compress_level,
            bandwidth_limit_kbps=job.bandwidth_limit_kbps, checksum=job.checksum,
            # one-time jobs: pass 2+ after a failed check re-reads the source as a delta pass
            cycle=job.cycle if not job.run_once or job.cycle > 1 else 0,
        )


def report_error(
    ctx: ServiceContext, token: str, *, job_id: str, code: str, message: str, hint: str = "",
    hint_zh: str = "",
) -> Job:
    """The agent failed its job: Running → InError with the agent's code, message and hint."""
    account_id, source_id = verify_agent_token(ctx, token)
    with ctx.db.read() as session:
        row = lookup.job_row(session, AccountId(account_id), job_id)
        if row.source_id != source_id:
            raise errors.not_found("Job", job_id)
    known = f"hint.agent.{code}"
    if not hint and messages.has(known):  # the fix the server knows for the agent's code
        hint, hint_zh = messages.both(known)
    return dataplane.fail_job(ctx, JobId(job_id), code=code or "Agent.Error",
                              message_en=message, message_zh=message, hint=hint,
                              hint_zh=hint_zh)
