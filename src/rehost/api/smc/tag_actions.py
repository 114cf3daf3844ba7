"""Tag actions (TagResources, UntagResources, ListTagResources) and `Tag.N` on other actions."""

from __future__ import annotations

from rehost.api.smc import errors
from rehost.api.smc.call import Call
from rehost.api.smc.params import Params
from rehost.domain.tags import ResourceType, Tag, parse_resource_type
from rehost.jsonvalue import JsonObject
from rehost.services import tags


def tag_params(params: Params) -> list[Tag]:
    """`Tag.N.Key` / `Tag.N.Value` pairs (a value may be empty, a key may not)."""
    found = []
    for n, record in enumerate(params.records("Tag"), start=1):
        if not record.get("Key"):
            raise errors.missing_parameter(f"Tag.{n}.Key")
        found.append(Tag(record["Key"], record.get("Value", "")))
    return found


def _resource(call: Call) -> tuple[ResourceType, list[str]]:
    rtype = parse_resource_type(call.params.required("ResourceType"))
    return rtype, call.params.repeated("ResourceId")


def tag_resources(call: Call) -> JsonObject:
    """TagResources: ResourceType, ResourceId.N, Tag.N.Key/Value."""
    rtype, ids = _resource(call)
    tags.tag_resources(call.ctx, call.account_id, rtype, ids, tag_params(call.params))
    return {}


def untag_resources(call: Call) -> JsonObject:
    """UntagResources: ResourceType, ResourceId.N, TagKey.N or All."""
    rtype, ids = _resource(call)
    tags.untag_resources(call.ctx, call.account_id, rtype, ids, call.params.repeated("TagKey"),
                         all_=bool(call.params.boolean("All")))
    return {}


def list_tag_resources(call: Call) -> JsonObject:
    """ListTagResources: ResourceType, ResourceId.N, Tag.N, NextToken (50 per page)."""
    rtype, ids = _resource(call)
    token = call.params.text("NextToken")
    if token and not token.isdecimal():
        raise errors.invalid_parameter("NextToken", "use the NextToken of the previous page")
    pairs, next_offset = tags.list_tags(call.ctx, call.account_id, rtype, resource_ids=ids,
                                        tags=tag_params(call.params), offset=int(token or 0))
    found = [{"ResourceId": rid, "ResourceType": rtype.value, "TagKey": t.key,
              "TagValue": t.value} for rid, t in pairs]
    return {"NextToken": "" if next_offset is None else str(next_offset),
            "TagResources": {"TagResource": found}}


def tag_documents(call: Call, rtype: ResourceType, documents: list[JsonObject],
                  id_field: str) -> None:
    """Add SMC's `Tags: {Tag: [{Key, Value}]}` to described resources."""
    ids = [str(d[id_field]) for d in documents]
    held = tags.tags_of(call.ctx, call.account_id, rtype, ids)
    for document, resource_id in zip(documents, ids, strict=True):
        document["Tags"] = {"Tag": [{"Key": t.key, "Value": t.value}
                                    for t in held[resource_id]]}


def tag_filter(call: Call, rtype: ResourceType, ids: list[str]) -> list[str] | None:
    """The id filter after `Tag.N` (None: no filter; []: nothing can match)."""
    wanted = tag_params(call.params)
    if not wanted:
        return ids or None
    matched = tags.matching(call.ctx, call.account_id, rtype, wanted)
    return sorted(matched & set(ids)) if ids else sorted(matched)
