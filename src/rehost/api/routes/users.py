"""/api/v1/users (+ their AccessKeys) and /api/v1/me: the account's team.

Who may call what is decided once, in `rehost.api.deps` (`rehost.domain.authz`).
"""

from __future__ import annotations

from fastapi import APIRouter

from rehost.api.deps import Caller, Ctx
from rehost.api.user_schemas import (
    DeletedOut,
    KeyOut,
    KeysOut,
    MeOut,
    NewKeyOut,
    PasswordChangeIn,
    PasswordResetIn,
    UserCreateIn,
    UserModifyIn,
    UserOut,
    UsersOut,
)
from rehost.domain import errors
from rehost.domain.authz import parse_role
from rehost.services import access_keys, users

router = APIRouter(prefix="/users", tags=["users"])
me_router = APIRouter(prefix="/me", tags=["users"])


@router.get("", response_model=UsersOut)
def list_users(ctx: Ctx, who: Caller) -> UsersOut:
    """The account's users."""
    return UsersOut(users=[UserOut.of(u) for u in users.list_users(ctx, who.account_id)])


@router.post("", status_code=201, response_model=UserOut)
def create_user(body: UserCreateIn, ctx: Ctx, who: Caller) -> UserOut:
    """A new user with a role and an initial password."""
    return UserOut.of(users.create_user(ctx, who.account_id, name=body.name,
                                        role=parse_role(body.role), password=body.password))


@router.get("/{user_id}", response_model=UserOut)
def describe_user(user_id: str, ctx: Ctx, who: Caller) -> UserOut:
    """One user."""
    return UserOut.of(users.get_user(ctx, who.account_id, user_id))


@router.patch("/{user_id}", response_model=UserOut)
def modify_user(user_id: str, body: UserModifyIn, ctx: Ctx, who: Caller) -> UserOut:
    """Change a user's role (the account owner stays admin)."""
    return UserOut.of(users.set_role(ctx, who.account_id, user_id, parse_role(body.role)))


@router.delete("/{user_id}", response_model=DeletedOut)
def delete_user(user_id: str, ctx: Ctx, who: Caller) -> DeletedOut:
    """Delete a user with its keys and sessions."""
    users.delete_user(ctx, who.account_id, user_id)
    return DeletedOut(deleted=user_id)


@router.post("/{user_id}/password", response_model=UserOut)
def reset_password(user_id: str, body: PasswordResetIn, ctx: Ctx, who: Caller) -> UserOut:
    """Admin-side password reset."""
    return UserOut.of(users.reset_password(ctx, who.account_id, user_id,
                                           new_password=body.password))


@router.get("/{user_id}/keys", response_model=KeysOut)
def list_keys(user_id: str, ctx: Ctx, who: Caller) -> KeysOut:
    """A user's AccessKeys (no secrets)."""
    users.get_user(ctx, who.account_id, user_id)
    return KeysOut(keys=[KeyOut.of(k) for k in
                         access_keys.list_keys(ctx, who.account_id, user_id=user_id)])


@router.post("/{user_id}/keys", status_code=201, response_model=NewKeyOut)
def create_key(user_id: str, ctx: Ctx, who: Caller) -> NewKeyOut:
    """A new AccessKey; its secret is in this answer only."""
    return NewKeyOut.of_new(access_keys.create_key(ctx, who.account_id, user_id))


def _own_key(ctx: Ctx, who: Caller, user_id: str, key_id: str) -> None:
    if access_keys.get_key(ctx, who.account_id, key_id).user_id != user_id:
        raise errors.not_found("AccessKey", key_id)


@router.post("/{user_id}/keys/{key_id}/disable", response_model=KeyOut)
def disable_key(user_id: str, key_id: str, ctx: Ctx, who: Caller) -> KeyOut:
    """Disable a key: refused from the next request on."""
    _own_key(ctx, who, user_id, key_id)
    return KeyOut.of(access_keys.set_enabled(ctx, who.account_id, key_id, enabled=False))


@router.post("/{user_id}/keys/{key_id}/enable", response_model=KeyOut)
def enable_key(user_id: str, key_id: str, ctx: Ctx, who: Caller) -> KeyOut:
    """Enable a disabled key again."""
    _own_key(ctx, who, user_id, key_id)
    return KeyOut.of(access_keys.set_enabled(ctx, who.account_id, key_id, enabled=True))


@router.delete("/{user_id}/keys/{key_id}", response_model=DeletedOut)
def delete_key(user_id: str, key_id: str, ctx: Ctx, who: Caller) -> DeletedOut:
    """Delete a key for good."""
    _own_key(ctx, who, user_id, key_id)
    access_keys.delete_key(ctx, who.account_id, key_id)
    return DeletedOut(deleted=key_id)


@me_router.get("", response_model=MeOut)
def me(who: Caller) -> MeOut:
    """Who this AccessKey belongs to: account, user, role."""
    return MeOut.of(who)


@me_router.post("/password", response_model=MeOut)
def change_password(body: PasswordChangeIn, ctx: Ctx, who: Caller) -> MeOut:
    """Change the caller's own password (the current one is required)."""
    users.change_password(ctx, who.account_id, who.user_id, old_password=body.old_password,
                          new_password=body.new_password)
    return MeOut.of(who)
