"""REST shapes of users, their AccessKeys and passwords (pydantic, at the edge only)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from rehost.api.schemas import Model
from rehost.domain.authz import Principal
from rehost.domain.models import AccessKey, NewAccessKey
from rehost.domain.users import User

RoleName = Literal["admin", "operator", "read-only"]


class UserCreateIn(Model):
    """POST /users."""

    name: str = Field(description="2–64 letters, digits, '.', '_' or '-'; starts with a letter")
    role: RoleName
    password: str = Field(description="The initial password, 8–128 characters")


class UserModifyIn(Model):
    """PATCH /users/{user_id}."""

    role: RoleName


class PasswordResetIn(Model):
    """POST /users/{user_id}/password (admin-side reset)."""

    password: str


class PasswordChangeIn(Model):
    """POST /me/password (the caller's own password)."""

    old_password: str
    new_password: str


class UserOut(BaseModel):
    """A user (never its password)."""

    user_id: str
    name: str
    role: RoleName
    owner: bool
    created_at: datetime
    password_changed_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        """From the domain value."""
        return cls(user_id=user.id, name=user.name, role=user.role.value, owner=user.owner,
                   created_at=user.created_at, password_changed_at=user.password_changed_at)


class UsersOut(BaseModel):
    """GET /users."""

    users: list[UserOut]


class KeyOut(BaseModel):
    """An AccessKey without its secret."""

    access_key_id: str
    user_id: str
    enabled: bool
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: AccessKey) -> KeyOut:
        """From the domain value."""
        return cls(access_key_id=key.id, user_id=key.user_id, enabled=key.enabled,
                   created_at=key.created_at, last_used_at=key.last_used_at)


class NewKeyOut(KeyOut):
    """A created AccessKey: the secret is in this answer only."""

    access_key_secret: str

    @classmethod
    def of_new(cls, new: NewAccessKey) -> NewKeyOut:
        """From the domain value."""
        return cls(**KeyOut.of(new.key).model_dump(), access_key_secret=new.secret)


class KeysOut(BaseModel):
    """GET /users/{user_id}/keys."""

    keys: list[KeyOut]


class MeOut(BaseModel):
    """GET /me: who the AccessKey belongs to."""

    account_id: str
    user_id: str
    user_name: str
    role: RoleName

    @classmethod
    def of(cls, who: Principal) -> MeOut:
        """From the principal."""
        return cls(account_id=who.account_id, user_id=who.user_id, user_name=who.user_name,
                   role=who.role.value)


class DeletedOut(BaseModel):
    """A delete's answer."""

    deleted: str
