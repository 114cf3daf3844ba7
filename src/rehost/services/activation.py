"""Activation codes (SMC CreateAccessToken): create, list, disable."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from rehost.db import convert
from rehost.db.tables import ActivationCodeRow
from rehost.domain import errors, quotas, rules
from rehost.domain.ids import PREFIX_ACTIVATION_CODE, AccountId, ActivationCodeId
from rehost.domain.models import ActivationCode, NewActivationCode, Page
from rehost.domain.paging import check_page
from rehost.services import crypto, lookup
from rehost.services.context import ServiceContext


def create_code(
    ctx: ServiceContext,
    account_id: AccountId,
    *,
    count: int = quotas.ACTIVATION_COUNT_DEFAULT,
    ttl_days: int = quotas.ACTIVATION_TTL_DEFAULT,
    name: str = "",
) -> NewActivationCode:
    """Create an activation code usable `count` times for `ttl_days`; the secret is shown once."""
    quotas.check_activation(count, ttl_days)
    if name:
        rules.check_name(name, field="Name", what_en="activation code name", what_zh="激活码名称")
    now = ctx.now()
    secret = crypto.new_token()
    row = ActivationCodeRow(
        id=ctx.new_id(PREFIX_ACTIVATION_CODE), account_id=account_id, name=name,
        code_hash=crypto.sha256_hex(secret), count=count, registered_count=0, disabled=False,
        created_at=now, expires_at=now + timedelta(days=ttl_days),
    )
    with ctx.db.transaction() as session:
        session.add(row)
    return NewActivationCode(code=convert.activation_code(row, now=now), secret=secret)


def list_codes(
    ctx: ServiceContext, account_id: AccountId, *, page_number: int = 1, page_size: int = 50,
    code_id: str = "", name: str = "",
) -> Page[ActivationCode]:
    """The account's activation codes (by id and/or name), newest first, with their state."""
    check_page(page_number, page_size)
    query = select(ActivationCodeRow).where(ActivationCodeRow.account_id == account_id)
    if code_id:  # filtered before paging, so the page and TotalCount count only matches
        query = query.where(ActivationCodeRow.id == code_id)
    if name:
        query = query.where(ActivationCodeRow.name == name)
    query = query.order_by(ActivationCodeRow.created_at.desc(), ActivationCodeRow.id)
    now = ctx.now()
    with ctx.db.read() as session:
        rows, total = lookup.page_rows(session, query, page_number=page_number,
                                       page_size=page_size)
        items = tuple(convert.activation_code(r, now=now) for r in rows)
    return Page(items, total, page_number, page_size)


def disable_code(
    ctx: ServiceContext, account_id: AccountId, code_id: ActivationCodeId
) -> ActivationCode:
    """Disable an activation code (already imported sources stay)."""
    with ctx.db.transaction() as session:
        row = session.get(ActivationCodeRow, code_id)
        if row is None or row.account_id != account_id:
            raise errors.not_found("AccessToken", code_id)
        row.disabled = True
        return convert.activation_code(row, now=ctx.now())


def delete_code(ctx: ServiceContext, account_id: AccountId, code_id: ActivationCodeId) -> None:
    """Delete an activation code (sources imported with it stay registered)."""
    with ctx.db.transaction() as session:
        row = session.get(ActivationCodeRow, code_id)
        if row is None or row.account_id != account_id:
            raise errors.not_found("AccessToken", code_id)
        session.delete(row)
