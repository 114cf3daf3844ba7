"""Workgroup actions: Create, Delete, Describe, ModifyWorkgroupAttribute, Associate and
DisassociateSourceServers."""

from __future__ import annotations

from rehost.api.smc import errors
from rehost.api.smc.call import MAX_PAGE_SIZE, Call
from rehost.api.smc.shapes import smc_time
from rehost.api.smc.tag_actions import tag_documents, tag_filter, tag_params
from rehost.domain.idempotency import params_digest
from rehost.domain.tags import ResourceType
from rehost.jsonvalue import JsonObject
from rehost.services import idempotency, workgroups


def create_workgroup(call: Call) -> JsonObject:
    """CreateWorkgroup → WorkgroupId (Name, Description, Tag.N, ClientToken)."""
    p = call.params

    def create() -> JsonObject:
        workgroup_id = workgroups.create(call.ctx, call.account_id, name=p.required("Name"),
                                         description=p.text("Description"),
                                         tag_list=tag_params(p))
        return {"WorkgroupId": workgroup_id}

    return idempotency.run_once(call.ctx, call.account_id, action="CreateWorkgroup",
                                token=p.text("ClientToken"), digest=params_digest(p.items()),
                                run=create)


def delete_workgroup(call: Call) -> JsonObject:
    """DeleteWorkgroup (its sources stay)."""
    workgroups.delete_workgroup(call.ctx, call.account_id, call.params.required("WorkgroupId"))
    return {}


def modify_workgroup_attribute(call: Call) -> JsonObject:
    """ModifyWorkgroupAttribute: Name and/or Description."""
    p = call.params
    workgroups.modify(call.ctx, call.account_id, p.required("WorkgroupId"),
                      name=p.optional_text("Name"), description=p.optional_text("Description"))
    return {}


def associate_source_servers(call: Call) -> JsonObject:
    """AssociateSourceServers: WorkgroupId, SourceId.N."""
    workgroups.associate(call.ctx, call.account_id, call.params.required("WorkgroupId"),
                         call.params.repeated("SourceId"))
    return {}


def disassociate_source_servers(call: Call) -> JsonObject:
    """DisassociateSourceServers: WorkgroupId, SourceId.N."""
    workgroups.disassociate(call.ctx, call.account_id, call.params.required("WorkgroupId"),
                            call.params.repeated("SourceId"))
    return {}


def describe_workgroups(call: Call) -> JsonObject:
    """DescribeWorkgroups: WorkgroupId.N, Name, Status (Available), Tag.N, paging."""
    p = call.params
    ids = p.repeated("WorkgroupId")
    if len(ids) > MAX_PAGE_SIZE:
        raise errors.invalid_parameter("WorkgroupId", f"at most {MAX_PAGE_SIZE} ids")
    if p.text("Status") not in ("", "Available"):
        raise errors.invalid_parameter("Status", "a workgroup's status is Available")
    number, size = call.paging()
    wanted = tag_filter(call, ResourceType.WORKGROUP, ids)
    page = workgroups.describe(call.ctx, call.account_id, ids=wanted, name=p.text("Name"),
                               page_number=number, page_size=size)
    documents: list[JsonObject] = [
        {"WorkgroupId": w.id, "Name": w.name, "Description": w.description,
         "Status": "Available", "CreationTime": smc_time(w.created_at),
         "SourceServers": {"SourceId": list(w.source_ids)}} for w in page.items]
    tag_documents(call, ResourceType.WORKGROUP, documents, "WorkgroupId")
    return {"TotalCount": page.total_count, "PageNumber": page.page_number,
            "PageSize": page.page_size, "Workgroups": {"Workgroup": documents}}
