"""Source server actions: DescribeSourceServers, ModifySourceServerAttribute, DeleteSourceServer."""

from __future__ import annotations

from rehost.api.smc import errors
from rehost.api.smc.call import Call
from rehost.api.smc.shapes import page_fields, source_document
from rehost.api.smc.tag_actions import tag_documents, tag_filter
from rehost.domain.ids import JobId, SourceId
from rehost.domain.models import Source
from rehost.domain.states import SourceState
from rehost.domain.tags import ResourceType
from rehost.jsonvalue import JsonObject
from rehost.services import jobs, sources


def describe_source_servers(call: Call) -> JsonObject:
    """DescribeSourceServers with SourceId.N, State, Name, JobId and paging."""
    p = call.params
    ids: list[str] | None = p.repeated("SourceId") or None
    if p.text("JobId"):
        job = jobs.get_job(call.ctx, call.account_id, JobId(p.text("JobId")))
        ids = [s for s in ids if s == job.source_id] if ids else [job.source_id]
    number, size = call.paging()
    ids = tag_filter(call, ResourceType.SOURCE, ids or [])
    if ids == []:
        return {"TotalCount": 0, "PageNumber": number, "PageSize": size,
                "SourceServers": {"SourceServer": []}}
    page = sources.describe_sources(
        call.ctx, call.account_id, source_ids=ids, state=_state(p.text("State")),
        name=p.text("Name") or None, page_number=number, page_size=size, smc_in_use=True,
    )
    rate_s = max(1, round(call.ctx.settings.heartbeat_interval_s))
    servers = [source_document(s, last_job_id=_last_job(call, s), heartbeat_rate_s=rate_s)
               for s in page.items]
    tag_documents(call, ResourceType.SOURCE, servers, "SourceId")
    return {**page_fields(page), "SourceServers": {"SourceServer": servers}}


def _state(value: str) -> SourceState | None:
    if not value:
        return None
    try:
        return SourceState(value)
    except ValueError as exc:
        allowed = ", ".join(SourceState)
        raise errors.invalid_parameter("State", f"{value!r} is not one of {allowed}") from exc


def _last_job(call: Call, source: Source) -> str:
    page = jobs.describe_jobs(call.ctx, call.account_id, source_id=source.id, page_size=1)
    return page.items[0].id if page.items else ""


def modify_source_server_attribute(call: Call) -> JsonObject:
    """ModifySourceServerAttribute: Name and/or Description."""
    p = call.params
    sources.modify_source(
        call.ctx, call.account_id, SourceId(p.required("SourceId")),
        name=p.optional_text("Name"), description=p.optional_text("Description"),
    )
    return {}


def delete_source_server(call: Call) -> JsonObject:
    """DeleteSourceServer (Force deletes even with an unfinished job)."""
    p = call.params
    sources.delete_source(call.ctx, call.account_id, SourceId(p.required("SourceId")),
                          force=bool(p.boolean("Force")))
    return {}
