"""ClientToken idempotency: the same token and parameters give the same result for 24 h.

Results live in the database, so every API replica answers a retry alike.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from rehost.db.tables import ClientTokenRow
from rehost.domain import idempotency
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId
from rehost.jsonvalue import JsonObject
from rehost.services.context import ServiceContext

Result = JsonObject  # a JSON document (stored in client_tokens.result)


def run_once(
    ctx: ServiceContext, account_id: AccountId, *, action: str, token: str, digest: str,
    run: Callable[[], Result],
) -> Result:
    """Run `run` unless this token already has a result; refuse it with other parameters."""
    if not token:
        return run()
    idempotency.check_token(token)
    key = (account_id, action, token)
    kept = _stored(ctx, key, digest)
    if kept is not None:
        return kept
    try:
        result = run()
    except RehostError:
        # a concurrent request with the same token may have created it (source busy, name taken)
        kept = _stored(ctx, key, digest)
        if kept is not None:
            return kept
        raise
    try:
        with ctx.db.transaction() as session:
            session.add(ClientTokenRow(account_id=account_id, action=action, token=token,
                                       params_digest=digest, result=result,
                                       created_at=ctx.now()))
    except IntegrityError:
        pass  # a concurrent twin stored its result first; both results are the same request
    return result


def _stored(ctx: ServiceContext, key: tuple[str, str, str], digest: str) -> Result | None:
    """The unexpired result stored under the key (expired rows are dropped)."""
    with ctx.db.transaction() as session:
        session.execute(delete(ClientTokenRow).where(
            ClientTokenRow.created_at < ctx.now() - idempotency.TOKEN_TTL))
        row = session.get(ClientTokenRow, key)
        if row is None:
            return None
        if row.params_digest != digest:
            raise idempotency.mismatch(key[2])
        return dict(row.result)
