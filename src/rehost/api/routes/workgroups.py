"""/api/v1/workgroups: named groups of sources (the REST side of SMC's workgroup actions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from rehost.api.deps import Account, Ctx
from rehost.api.schemas import Model, TagIn
from rehost.api.user_schemas import DeletedOut
from rehost.domain import errors
from rehost.domain.tags import Tag
from rehost.services import workgroups
from rehost.services.workgroups import Workgroup

router = APIRouter(prefix="/workgroups", tags=["workgroups"])


class WorkgroupIn(Model):
    """POST /workgroups."""

    name: str
    description: str = ""
    tags: list[TagIn] = Field(default_factory=list)


class WorkgroupModifyIn(Model):
    """PATCH /workgroups/{id}."""

    name: str | None = None
    description: str | None = None


class SourcesIn(Model):
    """POST /workgroups/{id}/sources and /sources/remove: 1–50 source ids."""

    source_ids: list[str]


class WorkgroupOut(BaseModel):
    """A workgroup and its sources."""

    workgroup_id: str
    name: str
    description: str
    created_at: datetime
    source_ids: list[str]

    @classmethod
    def of(cls, group: Workgroup) -> WorkgroupOut:
        """From the service value."""
        return cls(workgroup_id=group.id, name=group.name, description=group.description,
                   created_at=group.created_at, source_ids=list(group.source_ids))


class WorkgroupsOut(BaseModel):
    """GET /workgroups."""

    workgroups: list[WorkgroupOut]
    total_count: int
    page_number: int
    page_size: int


def _one(ctx: Ctx, account: Account, workgroup_id: str) -> WorkgroupOut:
    found = workgroups.describe(ctx, account, ids=[workgroup_id], page_size=1).items
    if not found:
        raise errors.not_found("Workgroup", workgroup_id)
    return WorkgroupOut.of(found[0])


@router.get("", response_model=WorkgroupsOut)
def list_workgroups(ctx: Ctx, account: Account, name: str = "",
                    page_number: Annotated[int, Query(ge=1)] = 1,
                    page_size: Annotated[int, Query(ge=1, le=50)] = 10) -> WorkgroupsOut:
    """The account's workgroups, newest first."""
    page = workgroups.describe(ctx, account, name=name, page_number=page_number,
                               page_size=page_size)
    return WorkgroupsOut(workgroups=[WorkgroupOut.of(g) for g in page.items],
                         total_count=page.total_count, page_number=page.page_number,
                         page_size=page.page_size)


@router.post("", status_code=201, response_model=WorkgroupOut)
def create_workgroup(body: WorkgroupIn, ctx: Ctx, account: Account) -> WorkgroupOut:
    """A new workgroup (name unique in the account)."""
    workgroup_id = workgroups.create(ctx, account, name=body.name, description=body.description,
                                     tag_list=[Tag(t.key, t.value) for t in body.tags])
    return _one(ctx, account, workgroup_id)


@router.get("/{workgroup_id}", response_model=WorkgroupOut)
def describe_workgroup(workgroup_id: str, ctx: Ctx, account: Account) -> WorkgroupOut:
    """One workgroup."""
    return _one(ctx, account, workgroup_id)


@router.patch("/{workgroup_id}", response_model=WorkgroupOut)
def modify_workgroup(workgroup_id: str, body: WorkgroupModifyIn, ctx: Ctx,
                     account: Account) -> WorkgroupOut:
    """Rename or describe a workgroup."""
    workgroups.modify(ctx, account, workgroup_id, name=body.name, description=body.description)
    return _one(ctx, account, workgroup_id)


@router.delete("/{workgroup_id}", response_model=DeletedOut)
def delete_workgroup(workgroup_id: str, ctx: Ctx, account: Account) -> DeletedOut:
    """Delete a workgroup (its sources stay)."""
    workgroups.delete_workgroup(ctx, account, workgroup_id)
    return DeletedOut(deleted=workgroup_id)


@router.post("/{workgroup_id}/sources", response_model=WorkgroupOut)
def add_sources(workgroup_id: str, body: SourcesIn, ctx: Ctx, account: Account) -> WorkgroupOut:
    """Put sources into the workgroup."""
    workgroups.associate(ctx, account, workgroup_id, body.source_ids)
    return _one(ctx, account, workgroup_id)


@router.post("/{workgroup_id}/sources/remove", response_model=WorkgroupOut)
def remove_sources(workgroup_id: str, body: SourcesIn, ctx: Ctx,
                   account: Account) -> WorkgroupOut:
    """Take sources out of the workgroup."""
    workgroups.disassociate(ctx, account, workgroup_id, body.source_ids)
    return _one(ctx, account, workgroup_id)
