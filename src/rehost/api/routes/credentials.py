"""/api/v1/credentials/confirm: `rehost configure` saved the AccessKey, so the server deletes
the first-start admin-credentials.json (its secrets should not stay on disk in clear)."""

from __future__ import annotations

from fastapi import APIRouter

from rehost.api.deps import Account, Ctx
from rehost.api.schemas.resources import CredentialsConfirmed
from rehost.services import bootstrap

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.post("/confirm")
def confirm(ctx: Ctx, account: Account) -> CredentialsConfirmed:
    """The AccessKey works: delete admin-credentials.json when it is the admin's."""
    return CredentialsConfirmed(
        credentials_file_deleted=bootstrap.confirm_admin_key(ctx, account))
