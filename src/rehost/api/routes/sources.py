"""/api/v1/sources: describe, modify, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rehost.api.deps import Account, Ctx
from rehost.api.schemas import SourceModifyIn, source_out
from rehost.api.schemas.resources import SourceDeleted, SourceOut, SourcePage
from rehost.domain import errors
from rehost.domain.states import SourceState
from rehost.services import sources

router = APIRouter(prefix="/sources", tags=["sources"])


def _state(value: str | None) -> SourceState | None:
    try:
        return None if value is None else SourceState(value)
    except ValueError as exc:
        raise errors.invalid("State", f"Unknown state; use one of {', '.join(SourceState)}.",
                             f"未知状态；可选值：{', '.join(SourceState)}。") from exc


@router.get("")
def list_sources(
    ctx: Ctx, account: Account, state: str | None = None, name: str | None = None,
    source_id: Annotated[list[str] | None, Query()] = None,
    page_number: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SourcePage:
    """Describe sources (filter by state, name substring, exact ids)."""
    page = sources.describe_sources(ctx, account, source_ids=source_id, state=_state(state),
                                    name=name, page_number=page_number, page_size=page_size)
    return SourcePage(sources=[source_out(s) for s in page.items],
                      total_count=page.total_count, page_number=page.page_number,
                      page_size=page.page_size)


@router.get("/{source_id}")
def describe_source(source_id: str, ctx: Ctx, account: Account) -> SourceOut:
    """One source with its disks."""
    return source_out(sources.get_source(ctx, account, source_id))


@router.patch("/{source_id}")
def modify_source(
    source_id: str, body: SourceModifyIn, ctx: Ctx, account: Account
) -> SourceOut:
    """Change name/description."""
    return source_out(sources.modify_source(ctx, account, source_id, name=body.name,
                                            description=body.description))


@router.delete("/{source_id}")
def delete_source(
    source_id: str, ctx: Ctx, account: Account, force: bool = False
) -> SourceDeleted:
    """Delete a source (force also deletes its unfinished jobs)."""
    sources.delete_source(ctx, account, source_id, force=force)
    return SourceDeleted(source_id=source_id, deleted=True)
