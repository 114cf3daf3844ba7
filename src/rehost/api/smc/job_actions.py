"""Replication job actions: Create, Start, Stop, CutOver, Describe, Modify, Delete."""

from __future__ import annotations

from rehost.api.smc import errors
from rehost.api.smc.call import MAX_PAGE_SIZE, Call
from rehost.api.smc.job_request import job_request
from rehost.api.smc.shapes import job_document, page_fields
from rehost.api.smc.tag_actions import tag_documents, tag_filter, tag_params
from rehost.domain.idempotency import params_digest
from rehost.domain.ids import JobId, RegionId, SourceId
from rehost.domain.states import parse_business_status, parse_job_status
from rehost.domain.tags import ResourceType
from rehost.jsonvalue import JsonObject
from rehost.services import cutover, idempotency, jobs, runs


def create_replication_job(call: Call) -> JsonObject:
    """CreateReplicationJob → JobId (a retry with the same ClientToken gets the same JobId)."""
    p = call.params

    def create() -> JsonObject:
        job = jobs.create_job(
            call.ctx, call.account_id, source_id=SourceId(p.required("SourceId")),
            region_id=RegionId(p.required("RegionId")), request=job_request(p),
            tags=tag_params(p),
        )
        return {"JobId": job.id}

    return idempotency.run_once(call.ctx, call.account_id, action="CreateReplicationJob",
                                token=p.text("ClientToken"), digest=params_digest(p.items()),
                                run=create)


def start_replication_job(call: Call) -> JsonObject:
    """StartReplicationJob (Ready, Stopped, InError)."""
    runs.start_job(call.ctx, call.account_id, JobId(call.params.required("JobId")))
    return {}


def cut_over_replication_job(call: Call) -> JsonObject:
    """CutOverReplicationJob (Waiting incremental job; SyncData default true = a last cycle)."""
    sync_data = call.params.boolean("SyncData")
    cutover.cut_over(call.ctx, call.account_id, JobId(call.params.required("JobId")),
                     sync_data=True if sync_data is None else sync_data)
    return {}


def stop_replication_job(call: Call) -> JsonObject:
    """StopReplicationJob (Running + Syncing, or Waiting between cycles)."""
    runs.pause_job(call.ctx, call.account_id, JobId(call.params.required("JobId")))
    return {}


def delete_replication_job(call: Call) -> JsonObject:
    """DeleteReplicationJob (not while Running)."""
    jobs.delete_job(call.ctx, call.account_id, JobId(call.params.required("JobId")))
    return {}


def modify_replication_job_attribute(call: Call) -> JsonObject:
    """ModifyReplicationJobAttribute (Name/Description any time; the rest before the first run)."""
    job_id = JobId(call.params.required("JobId"))
    jobs.modify_job(call.ctx, call.account_id, job_id, job_request(call.params))
    return {}


def describe_replication_jobs(call: Call) -> JsonObject:
    """DescribeReplicationJobs with JobId.N, SourceId.N, Status, Name, RegionId and paging."""
    p = call.params
    job_ids = p.repeated("JobId")
    if len(job_ids) > MAX_PAGE_SIZE:
        raise errors.invalid_parameter("JobId", f"at most {MAX_PAGE_SIZE} ids")
    source_ids = p.repeated("SourceId")
    if len(source_ids) > MAX_PAGE_SIZE:
        raise errors.invalid_parameter("SourceId", f"at most {MAX_PAGE_SIZE} ids")
    number, size = call.paging()
    wanted = tag_filter(call, ResourceType.JOB, job_ids)
    if wanted == []:
        return {"TotalCount": 0, "PageNumber": number, "PageSize": size,
                "ReplicationJobs": {"ReplicationJob": []}}
    page = jobs.describe_jobs(
        call.ctx, call.account_id, job_ids=wanted,
        status=parse_job_status(p.text("Status") or None),
        region_id=RegionId(p.text("RegionId")) if p.text("RegionId") else None,
        source_ids=source_ids or None, name=p.text("Name") or None,
        page_number=number, page_size=size,
        business_status=parse_business_status(p.text("BusinessStatus")),
    )
    documents = [job_document(j) for j in page.items]
    tag_documents(call, ResourceType.JOB, documents, "JobId")
    return {**page_fields(page), "ReplicationJobs": {"ReplicationJob": documents}}
