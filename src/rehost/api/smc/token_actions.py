"""Activation-code actions: Create, List, Disable and DeleteAccessToken."""

from __future__ import annotations

from rehost.api.smc.call import Call
from rehost.api.smc.shapes import token_document
from rehost.domain.ids import ActivationCodeId
from rehost.jsonvalue import JsonObject
from rehost.services import activation


def create_access_token(call: Call) -> JsonObject:
    """CreateAccessToken: Count 1–1000 (100), TimeToLiveInDays 1–90 (30), Name."""
    p = call.params
    created = activation.create_code(
        call.ctx, call.account_id,
        count=p.integer("Count", low=1, high=1000) or 100,
        ttl_days=p.integer("TimeToLiveInDays", low=1, high=90) or 30,
        name=p.text("Name"),
    )
    return {"AccessTokenId": created.code.id, "AccessTokenCode": created.secret}


def list_access_tokens(call: Call) -> JsonObject:
    """ListAccessTokens, optionally filtered by AccessTokenId, Name and Status."""
    number, size = call.paging()
    wanted_id, name, status = (call.params.text(k) for k in ("AccessTokenId", "Name", "Status"))
    page = activation.list_codes(call.ctx, call.account_id, page_number=number, page_size=size,
                                 code_id=wanted_id, name=name)
    documents = [d for d in (token_document(c) for c in page.items)
                 if not status or str(d["Status"]).lower() == status.lower()]
    return {"TotalCount": page.total_count, "PageNumber": page.page_number,
            "PageSize": page.page_size, "AccessTokens": {"AccessToken": documents}}


def disable_access_token(call: Call) -> JsonObject:
    """DisableAccessToken."""
    code_id = ActivationCodeId(call.params.required("AccessTokenId"))
    activation.disable_code(call.ctx, call.account_id, code_id)
    return {}


def delete_access_token(call: Call) -> JsonObject:
    """DeleteAccessToken (sources already imported with it stay)."""
    code_id = ActivationCodeId(call.params.required("AccessTokenId"))
    activation.delete_code(call.ctx, call.account_id, code_id)
    return {}
