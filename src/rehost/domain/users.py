"""Users inside an account (RAM-style): the value, and the rules for names and passwords."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from rehost.domain.authz import Role
from rehost.domain.errors import InvalidParameter, invalid
from rehost.domain.ids import AccountId, UserId

USER_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{1,63}$")
PASSWORD_MIN: Final = 8
PASSWORD_MAX: Final = 128


@dataclass(frozen=True, slots=True)
class User:
    """A user of an account; `owner` is the account's first admin (never removed or demoted)."""

    id: UserId
    account_id: AccountId
    name: str
    role: Role
    owner: bool
    created_at: datetime
    password_changed_at: datetime | None


def check_user_name(name: str) -> str:
    """A valid user name, or `InvalidParameter.UserName` saying what is allowed."""
    if not USER_NAME.match(name):
        raise invalid(
            "UserName",
            f"User name {name!r} is invalid: use 2–64 letters, digits, '.', '_' or '-', "
            "starting with a letter (no '@': console logins are user@account).",
            f"用户名 {name!r} 无效：须为 2–64 个字母、数字、'.'、'_' 或 '-'，以字母开头"
            "（不可含 '@'：控制台以 用户名@账号名 登录）。",
        )
    return name


def check_password(password: str) -> str:
    """A password of acceptable length, or `InvalidParameter.Password`."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX or "\x00" in password:
        raise invalid(
            "Password",
            f"Passwords are {PASSWORD_MIN}–{PASSWORD_MAX} characters (no NUL); choose another.",
            f"密码须为 {PASSWORD_MIN}–{PASSWORD_MAX} 个字符（不含 NUL）；请换一个。",
        )
    return password


def owner_protected(user: User, what: str, what_zh: str) -> InvalidParameter:
    """The account owner cannot be deleted or lose the admin role."""
    return InvalidParameter(
        "User.OwnerProtected",
        f"{user.name!r} is the account's first admin and cannot be {what}; "
        "create another admin for other tasks.",
        f"{user.name!r} 是账号的首个管理员，不能被{what_zh}；如需分工请另建管理员。",
    )
