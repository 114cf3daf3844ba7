"""Tags of jobs and sources: add, remove, list, and filter resources by them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rehost.db.tables import TagRow
from rehost.domain import errors
from rehost.domain.ids import AccountId
from rehost.domain.tags import ResourceType, Tag, check_count, check_tags
from rehost.services import lookup
from rehost.services.context import ServiceContext

MAX_RESOURCES = 50
LIST_PAGE = 50


def _check_resource(session: Session, account_id: AccountId, rtype: ResourceType,
                    resource_id: str) -> None:
    if rtype is ResourceType.JOB:
        lookup.job_row(session, account_id, resource_id)
    elif rtype is ResourceType.WORKGROUP:
        lookup.workgroup_row(session, account_id, resource_id)
    else:
        lookup.source_row(session, account_id, resource_id)


def add_in_session(session: Session, account_id: str, rtype: ResourceType, resource_id: str,
                   tags: Sequence[Tag]) -> None:
    """Add or overwrite tags of one resource (≤ 20 in all)."""
    rows = {r.key: r for r in session.scalars(select(TagRow).where(
        TagRow.account_id == account_id, TagRow.resource_type == rtype.value,
        TagRow.resource_id == resource_id))}
    check_count(len(set(rows) | {t.key for t in tags}))
    for tag in tags:
        if tag.key in rows:
            rows[tag.key].value = tag.value
        else:
            session.add(TagRow(account_id=account_id, resource_type=rtype.value,
                               resource_id=resource_id, key=tag.key, value=tag.value))
    session.flush()


def _check_ids(resource_ids: Sequence[str]) -> None:
    if not 1 <= len(resource_ids) <= MAX_RESOURCES:
        raise errors.invalid("ResourceId", f"Give 1–{MAX_RESOURCES} resource ids.",
                             f"请提供 1–{MAX_RESOURCES} 个资源 ID。")


def tag_resources(ctx: ServiceContext, account_id: AccountId, rtype: ResourceType,
                  resource_ids: Sequence[str], tags: Sequence[Tag]) -> None:
    """TagResources: every resource gets every tag, or none does."""
    _check_ids(resource_ids)
    if not tags:
        raise errors.invalid("Tag", "Give at least one tag (Tag.N.Key).", "请至少提供一个标签。")
    check_tags(tags)
    with ctx.db.transaction() as session:
        for resource_id in resource_ids:
            _check_resource(session, account_id, rtype, resource_id)
            add_in_session(session, account_id, rtype, resource_id, tags)


def untag_resources(ctx: ServiceContext, account_id: AccountId, rtype: ResourceType,
                    resource_ids: Sequence[str], keys: Sequence[str], *, all_: bool) -> None:
    """UntagResources: the given keys, or every tag with `all_`."""
    _check_ids(resource_ids)
    if not keys and not all_:
        raise errors.invalid("TagKey", "Give TagKey.N, or All=true to remove every tag.",
                             "请提供 TagKey.N，或设置 All=true 删除全部标签。")
    with ctx.db.transaction() as session:
        for resource_id in resource_ids:
            _check_resource(session, account_id, rtype, resource_id)
            query = delete(TagRow).where(
                TagRow.account_id == account_id, TagRow.resource_type == rtype.value,
                TagRow.resource_id == resource_id)
            session.execute(query if all_ else query.where(TagRow.key.in_(keys)))


def drop_all(session: Session, rtype: ResourceType, resource_id: str) -> None:
    """Remove a deleted resource's tags."""
    session.execute(delete(TagRow).where(TagRow.resource_type == rtype.value,
                                         TagRow.resource_id == resource_id))


def list_tags(ctx: ServiceContext, account_id: AccountId, rtype: ResourceType, *,
              resource_ids: Sequence[str] = (), tags: Sequence[Tag] = (), offset: int = 0,
              limit: int = LIST_PAGE) -> tuple[list[tuple[str, Tag]], int | None]:
    """(resource id, tag) pairs, resources filtered by ids and tags; and the next offset."""
    query = select(TagRow).where(TagRow.account_id == account_id,
                                 TagRow.resource_type == rtype.value)
    if resource_ids:
        query = query.where(TagRow.resource_id.in_(resource_ids))
    if tags:
        query = query.where(TagRow.resource_id.in_(matching(ctx, account_id, rtype, tags)))
    query = query.order_by(TagRow.resource_id, TagRow.key).offset(offset).limit(limit + 1)
    with ctx.db.read() as session:
        rows = list(session.scalars(query))
    pairs = [(r.resource_id, Tag(r.key, r.value)) for r in rows[:limit]]
    return pairs, offset + limit if len(rows) > limit else None


def matching(ctx: ServiceContext, account_id: AccountId, rtype: ResourceType,
             tags: Sequence[Tag]) -> set[str]:
    """Ids of resources carrying every given tag (an empty value matches any value)."""
    found: set[str] | None = None
    with ctx.db.read() as session:
        for tag in tags:
            query = select(TagRow.resource_id).where(
                TagRow.account_id == account_id, TagRow.resource_type == rtype.value,
                TagRow.key == tag.key)
            if tag.value:
                query = query.where(TagRow.value == tag.value)
            ids = set(session.scalars(query))
            found = ids if found is None else found & ids
    return found or set()


def tags_of(ctx: ServiceContext, account_id: AccountId, rtype: ResourceType,
            resource_ids: Sequence[str]) -> dict[str, list[Tag]]:
    """Each resource's tags, by key."""
    result: dict[str, list[Tag]] = {i: [] for i in resource_ids}
    with ctx.db.read() as session:
        for row in session.scalars(select(TagRow).where(
                TagRow.account_id == account_id, TagRow.resource_type == rtype.value,
                TagRow.resource_id.in_(resource_ids)).order_by(TagRow.key)):
            result[row.resource_id].append(Tag(row.key, row.value))
    return result
