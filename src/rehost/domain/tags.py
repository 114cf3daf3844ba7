"""Tag rules (SMC): ≤ 20 tags per resource; keys 1–128, values 0–128 characters; neither
starts with `aliyun` or `acs:` nor contains `http://` / `https://`."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from rehost.domain import errors

MAX_TAGS = 20
KEY_MAX = 128
VALUE_MAX = 128
_RESERVED = ("aliyun", "acs:")
_URL = ("http://", "https://")


class ResourceType(enum.StrEnum):
    """SMC's taggable resource types (lower case, as the API spells them)."""

    JOB = "replicationjob"
    SOURCE = "sourceserver"
    WORKGROUP = "workgroup"


@dataclass(frozen=True, slots=True)
class Tag:
    """One key/value tag."""

    key: str
    value: str


def parse_resource_type(text: str) -> ResourceType:
    """A ResourceType (case-insensitive), or InvalidParameter.ResourceType."""
    try:
        return ResourceType(text.lower())
    except ValueError as exc:
        allowed = ", ".join(ResourceType)
        raise errors.invalid("ResourceType", f"ResourceType must be one of {allowed}.",
                             f"ResourceType 须为 {allowed} 之一。") from exc


def _check_text(text: str, *, field: str, low: int, high: int) -> str:
    lowered = text.lower()
    if not low <= len(text) <= high or lowered.startswith(_RESERVED) or any(
            u in lowered for u in _URL):
        raise errors.invalid(
            field,
            f"A tag {field.lower()} must be {low}–{high} characters, must not start with "
            "aliyun or acs: and must not contain http:// or https://.",
            f"标签{'键' if field == 'TagKey' else '值'}长度须为 {low}–{high} 个字符，不能以 aliyun "
            "或 acs: 开头，且不能包含 http:// 或 https://。")
    return text


def check_tags(tags: Sequence[Tag]) -> tuple[Tag, ...]:
    """Validate tags to add: each valid, each key once, at most 20."""
    keys = [_check_text(t.key, field="TagKey", low=1, high=KEY_MAX) for t in tags]
    for t in tags:
        _check_text(t.value, field="TagValue", low=0, high=VALUE_MAX)
    if len(set(keys)) != len(keys):
        raise errors.invalid("TagKey", "Each tag key may appear once per request.",
                             "每个标签键在一次请求中只能出现一次。")
    check_count(len(tags))
    return tuple(tags)


def check_count(count: int) -> None:
    """A resource holds at most 20 tags."""
    if count > MAX_TAGS:
        raise errors.QuotaExceeded(
            "QuotaExceeded.Tags",
            f"A resource can have at most {MAX_TAGS} tags ({count} requested); remove some first.",
            f"每个资源最多 {MAX_TAGS} 个标签（本次将达到 {count} 个）；请先删除部分标签。")
