"""Workgroups: named groups of an account's source servers (SMC *Workgroup actions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rehost.db.tables import WorkgroupRow, WorkgroupSourceRow
from rehost.domain import errors, rules
from rehost.domain.ids import PREFIX_WORKGROUP, AccountId
from rehost.domain.models import Page
from rehost.domain.paging import check_page
from rehost.domain.tags import ResourceType, Tag, check_tags
from rehost.services import lookup, tags
from rehost.services.context import ServiceContext

MAX_SOURCES_PER_CALL = 50


@dataclass(frozen=True, slots=True)
class Workgroup:
    """A workgroup and the sources it holds."""

    id: str
    name: str
    description: str
    created_at: datetime
    source_ids: tuple[str, ...]


def _name(value: str) -> str:
    return rules.check_name(value, field="Name", what_en="workgroup name", what_zh="工作组名称")


def _check_unique(session: Session, account_id: str, name: str, own_id: str) -> None:
    taken = session.scalars(select(WorkgroupRow.id).where(
        WorkgroupRow.account_id == account_id, WorkgroupRow.name == name,
        WorkgroupRow.id != own_id)).first()
    if taken:
        raise errors.Duplicate("WorkgroupName.Duplicate",
                               f"A workgroup named {name!r} already exists; choose another name.",
                               f"已存在名为 {name!r} 的工作组；请换一个名称。")


def create(ctx: ServiceContext, account_id: AccountId, *, name: str, description: str = "",
           tag_list: Sequence[Tag] = ()) -> str:
    """A new workgroup; its id."""
    workgroup_id = ctx.new_id(PREFIX_WORKGROUP)
    with ctx.db.transaction() as session:
        _check_unique(session, account_id, _name(name), workgroup_id)
        session.add(WorkgroupRow(id=workgroup_id, account_id=account_id, name=name,
                                 description=rules.check_description(description),
                                 created_at=ctx.now()))
        session.flush()
        if tag_list:
            tags.add_in_session(session, account_id, ResourceType.WORKGROUP, workgroup_id,
                                check_tags(tag_list))
    return workgroup_id


def modify(ctx: ServiceContext, account_id: AccountId, workgroup_id: str, *,
           name: str | None, description: str | None) -> None:
    """Rename or re-describe a workgroup."""
    with ctx.db.transaction() as session:
        row = lookup.workgroup_row(session, account_id, workgroup_id, lock=True)
        if name is not None:
            _check_unique(session, account_id, _name(name), row.id)
            row.name = name
        if description is not None:
            row.description = rules.check_description(description)


def delete_workgroup(ctx: ServiceContext, account_id: AccountId, workgroup_id: str) -> None:
    """Delete a workgroup (its sources stay; only the grouping goes)."""
    with ctx.db.transaction() as session:
        row = lookup.workgroup_row(session, account_id, workgroup_id, lock=True)
        session.execute(delete(WorkgroupSourceRow).where(
            WorkgroupSourceRow.workgroup_id == row.id))
        tags.drop_all(session, ResourceType.WORKGROUP, row.id)
        session.delete(row)


def _check_sources(source_ids: Sequence[str]) -> None:
    if not 1 <= len(source_ids) <= MAX_SOURCES_PER_CALL:
        raise errors.invalid("SourceId", f"Give 1–{MAX_SOURCES_PER_CALL} source ids.",
                             f"请提供 1–{MAX_SOURCES_PER_CALL} 个迁移源 ID。")


def associate(ctx: ServiceContext, account_id: AccountId, workgroup_id: str,
              source_ids: Sequence[str]) -> None:
    """Put sources into a workgroup (already there: unchanged)."""
    _check_sources(source_ids)
    with ctx.db.transaction() as session:
        lookup.workgroup_row(session, account_id, workgroup_id, lock=True)
        for source_id in dict.fromkeys(source_ids):
            lookup.source_row(session, account_id, source_id)
            if session.get(WorkgroupSourceRow, (workgroup_id, source_id)) is None:
                session.add(WorkgroupSourceRow(workgroup_id=workgroup_id, source_id=source_id))


def disassociate(ctx: ServiceContext, account_id: AccountId, workgroup_id: str,
                 source_ids: Sequence[str]) -> None:
    """Take sources out of a workgroup."""
    _check_sources(source_ids)
    with ctx.db.transaction() as session:
        lookup.workgroup_row(session, account_id, workgroup_id, lock=True)
        session.execute(delete(WorkgroupSourceRow).where(
            WorkgroupSourceRow.workgroup_id == workgroup_id,
            WorkgroupSourceRow.source_id.in_(source_ids)))


def describe(ctx: ServiceContext, account_id: AccountId, *, ids: Sequence[str] | None = None,
             name: str = "", page_number: int = 1, page_size: int = 10) -> Page[Workgroup]:
    """The account's workgroups (by ids, name substring), newest first."""
    check_page(page_number, page_size)
    query = select(WorkgroupRow).where(WorkgroupRow.account_id == account_id)
    if ids is not None:
        query = query.where(WorkgroupRow.id.in_(ids))
    if name:
        query = query.where(WorkgroupRow.name.contains(name, autoescape=True))
    query = query.order_by(WorkgroupRow.created_at.desc(), WorkgroupRow.id)
    with ctx.db.read() as session:
        rows, total = lookup.page_rows(session, query, page_number=page_number,
                                       page_size=page_size)
        items = tuple(Workgroup(r.id, r.name, r.description, r.created_at, tuple(
            session.scalars(select(WorkgroupSourceRow.source_id).where(
                WorkgroupSourceRow.workgroup_id == r.id).order_by(
                    WorkgroupSourceRow.source_id)))) for r in rows)
    return Page(items, total, page_number, page_size)
