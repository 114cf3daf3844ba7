"""/api/v1/tags: tag, untag and list the tags of jobs and sources."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rehost.api.deps import Account, Ctx
from rehost.api.schemas import TagIn, TagsIn, UntagIn
from rehost.api.schemas.resources import Tagged, TagList, TagOut, Untagged
from rehost.domain import errors
from rehost.domain.tags import Tag, parse_resource_type
from rehost.services import tags

router = APIRouter(prefix="/tags", tags=["tags"])


def _tags(items: list[TagIn]) -> list[Tag]:
    return [Tag(t.key, t.value) for t in items]


def filter_tags(values: list[str] | None) -> list[Tag]:
    """`tag=key` or `tag=key=value` query values."""
    found = []
    for value in values or []:
        key, _, wanted = value.partition("=")
        if not key:
            raise errors.invalid("Tag", "Filter tags as tag=key or tag=key=value.",
                                 "标签过滤格式为 tag=key 或 tag=key=value。")
        found.append(Tag(key, wanted))
    return found


@router.post("")
def tag_resources(body: TagsIn, ctx: Ctx, account: Account) -> Tagged:
    """Add (or overwrite) tags on jobs or sources: all of them or none."""
    rtype = parse_resource_type(body.resource_type)
    tags.tag_resources(ctx, account, rtype, body.resource_ids, _tags(body.tags))
    return Tagged(resource_type=rtype.value, resource_ids=body.resource_ids, tagged=True)


@router.post("/untag")
def untag_resources(body: UntagIn, ctx: Ctx, account: Account) -> Untagged:
    """Remove the given keys (or every tag with all=true) from jobs or sources."""
    rtype = parse_resource_type(body.resource_type)
    tags.untag_resources(ctx, account, rtype, body.resource_ids, body.keys, all_=body.all)
    return Untagged(resource_type=rtype.value, resource_ids=body.resource_ids, untagged=True)


@router.get("")
def list_tags(
    ctx: Ctx, account: Account, resource_type: str,
    resource_id: Annotated[list[str] | None, Query()] = None,
    tag: Annotated[list[str] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TagList:
    """Tags of jobs or sources, by resource id and/or tag; `next_offset` pages on."""
    rtype = parse_resource_type(resource_type)
    pairs, next_offset = tags.list_tags(ctx, account, rtype, resource_ids=resource_id or [],
                                        tags=filter_tags(tag), offset=offset)
    return TagList(tags=[TagOut(resource_type=rtype.value, resource_id=rid, key=t.key,
                                value=t.value) for rid, t in pairs], next_offset=next_offset)
