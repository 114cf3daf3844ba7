"""/api/v1/credentials/confirm: `rehost configure` saved the AccessKey, so the server deletes
the first-start admin-credentials.json (its secrets should not stay on disk in clear)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from rehost.api.deps import Account, Ctx
from rehost.services import bootstrap

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.post("/confirm")
def confirm(ctx: Ctx, account: Account) -> dict[str, Any]:
    """The AccessKey works: delete admin-credentials.json when it is the admin's."""
    return {"credentials_file_deleted": bootstrap.confirm_admin_key(ctx, account)}
